// Package client connects the host to a kata-agent over ttrpc.
//
// Dial understands the agent URLs the runtime uses:
//
//	vsock://CID:PORT        AF_VSOCK, for QEMU with vhost-vsock
//	hvsock://UDS_PATH:PORT  Firecracker's hybrid vsock: a Unix socket on the
//	                        host and a "CONNECT PORT" handshake
//	unix://PATH             a Unix socket: a virtio-serial port QEMU exposes
//	                        on the host, or an agent listening on a Unix socket
package client

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// Defaults of the dial options.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultRetryInterval    = 100 * time.Millisecond
)

// ReadEOFMessage is the status message with which the agent ends ReadStdout
// and ReadStderr once a stream is drained and closed. Upstream's Rust agent
// sends the same message with code Internal.
const ReadEOFMessage = "read meet eof"

// Client holds one ttrpc connection to the agent and the two services on it.
type Client struct {
	AgentService grpc.AgentServiceService
	Health       grpc.HealthService

	conn      net.Conn
	ttrpc     *ttrpc.Client
	closeOnce sync.Once
	closeErr  error
}

// Option changes how Dial connects.
type Option func(*dialOptions)

type dialOptions struct {
	handshakeTimeout time.Duration
	retryInterval    time.Duration
	log              *logrus.Entry
}

// WithHandshakeTimeout bounds one connection attempt: the connect and, for
// hybrid vsock, the CONNECT handshake. The default is 10 s.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(o *dialOptions) { o.handshakeTimeout = d }
}

// WithRetryInterval sets the pause between failed connection attempts.
func WithRetryInterval(d time.Duration) Option {
	return func(o *dialOptions) { o.retryInterval = d }
}

// WithLogger sets the logger for retries; the default is logrus's standard
// logger with source=virtcontainers and subsystem=agent-client.
func WithLogger(l *logrus.Entry) Option {
	return func(o *dialOptions) { o.log = l }
}

// Dial connects to the agent at url, retrying failed attempts until ctx ends,
// because the agent starts listening only once the guest has booted.
func Dial(ctx context.Context, url string, opts ...Option) (*Client, error) {
	o := dialOptions{
		handshakeTimeout: DefaultHandshakeTimeout,
		retryInterval:    DefaultRetryInterval,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = logrus.WithFields(logrus.Fields{"source": "virtcontainers", "subsystem": "agent-client"})
	}
	log := o.log.WithField("url", url)

	addr, err := ParseURL(url)
	if err != nil {
		return nil, err
	}

	var conn net.Conn
	for attempt := 1; ; attempt++ {
		conn, err = addr.dial(ctx, o.handshakeTimeout)
		if err == nil {
			break
		}
		log.WithError(err).WithField("attempt", attempt).Debug("agent not reachable yet, retrying")

		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to the agent at %s: %w (last attempt: %w)", url, ctx.Err(), err)
		case <-time.After(o.retryInterval):
		}
	}
	log.Debug("connected to the agent")

	return newClient(conn), nil
}

// NewClient wraps an established connection, for callers that dial
// themselves.
func NewClient(conn net.Conn) *Client {
	return newClient(conn)
}

func newClient(conn net.Conn) *Client {
	tc := ttrpc.NewClient(conn)
	return &Client{
		AgentService: grpc.NewAgentServiceClient(tc),
		Health:       grpc.NewHealthClient(tc),
		conn:         conn,
		ttrpc:        tc,
	}
}

// Close closes the connection; calls in flight fail.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.ttrpc.Close()
	})
	return c.closeErr
}

// IsEOF reports whether err is the agent's end-of-stream reply to
// ReadStdout or ReadStderr.
func IsEOF(err error) bool {
	if err == nil {
		return false
	}
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	return st.Code() == codes.Internal && strings.Contains(st.Message(), ReadEOFMessage)
}
