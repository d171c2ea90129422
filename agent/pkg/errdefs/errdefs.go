// Package errdefs defines the error classes of the agent. Packages wrap these
// sentinels with %w and the ids involved; only the ttrpc server turns them
// into status codes.
package errdefs

import "errors"

var (
	// ErrNotFound: a container, process or file the request names does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a container or process with that id exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrFailedPrecondition: the object is in the wrong state for the request,
	// such as starting a running container.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrInvalidArgument: the request is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnimplemented: the agent does not support the request.
	ErrUnimplemented = errors.New("not implemented")
	// ErrEOF: a standard stream of a process is drained and closed.
	ErrEOF = errors.New("end of stream")
)
