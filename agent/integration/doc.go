// Package integration runs the host build of kata-agent on a Unix socket
// with Debian's runc and drives whole container lifecycles through the
// ttrpc client. The tests carry the integration build tag and need root.
package integration
