// Package server implements the agent's ttrpc services, grpc.AgentService
// and grpc.Health, on top of the sandbox. It validates requests, logs them
// with their ids, turns errors into ttrpc status codes and recovers from
// panics, so that no request can take the agent down.
package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/guest"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/kmod"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/metrics"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/network"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/sandbox"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// APIVersion is the agent API version that Health.Version reports.
const APIVersion = "0.0.1"

// Config wires the services to the agent's parts.
type Config struct {
	Version string
	// InitDaemon is set when the agent runs as PID 1.
	InitDaemon bool
	Sandbox    *sandbox.Sandbox
	Sysfs      guest.Sysfs
	// Network is nil when netlink is not available; the network methods
	// then fail with Unimplemented.
	Network *network.Network
	// OnDemand loads virtio_net when a network request first comes; nil
	// when the init system loaded it.
	OnDemand *kmod.OnDemand
	Metrics  *metrics.Metrics
	// OnDestroy runs after the reply to DestroySandbox; the agent powers the
	// guest off there when it is PID 1.
	OnDestroy func()
	Log       *logrus.Entry
}

// Service implements grpc.AgentServiceService and grpc.HealthService.
type Service struct {
	cfg Config
	log *logrus.Entry
}

// New returns the services for cfg.
func New(cfg Config) *Service {
	return &Service{cfg: cfg, log: cfg.Log}
}

// NewTTRPCServer returns a ttrpc server with both services registered and
// the recovering, logging interceptor installed.
func (s *Service) NewTTRPCServer() (*ttrpc.Server, error) {
	srv, err := ttrpc.NewServer(ttrpc.WithUnaryServerInterceptor(s.intercept))
	if err != nil {
		return nil, fmt.Errorf("creating the ttrpc server: %w", err)
	}
	grpc.RegisterAgentServiceService(srv, s)
	grpc.RegisterHealthService(srv, s)
	return srv, nil
}

// intercept recovers from panics, converts errors to status codes, logs and
// counts every request.
func (s *Service) intercept(ctx context.Context, unmarshal ttrpc.Unmarshaler, info *ttrpc.UnaryServerInfo, method ttrpc.Method) (resp any, err error) {
	start := time.Now()
	log := s.log.WithField("method", info.FullMethod)

	// Capture the request as the handler decodes it, so that the log lines
	// carry its container and exec ids.
	var req any
	decode := func(v any) error {
		err := unmarshal(v)
		req = v
		return err
	}

	defer func() {
		log = withIDs(log, req)
		if r := recover(); r != nil {
			log.WithField("panic", r).WithField("stack", string(debug.Stack())).Error("request handler panicked")
			resp, err = nil, status.Errorf(codes.Internal, "%s: internal error in the agent: %v", info.FullMethod, r)
		}
		code := status.Code(err)
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.ObserveRequest(info.FullMethod, code.String(), time.Since(start))
		}
		switch {
		case err == nil:
			log.WithField("duration", time.Since(start)).Debug("request handled")
		case client.IsEOF(err):
			log.Debug("stream at end of file")
		default:
			log.WithError(err).WithField("code", code.String()).Warn("request failed")
		}
	}()

	resp, err = method(ctx, decode)
	return resp, toStatus(err)
}

// withIDs adds the container and exec ids of a request to log; the
// generated request types have GetContainerId and GetExecId methods.
func withIDs(log *logrus.Entry, req any) *logrus.Entry {
	if r, ok := req.(interface{ GetContainerId() string }); ok && r.GetContainerId() != "" {
		log = log.WithField("container", r.GetContainerId())
	}
	if r, ok := req.(interface{ GetExecId() string }); ok && r.GetExecId() != "" {
		log = log.WithField("exec", r.GetExecId())
	}
	return log
}

// toStatus converts the agent's errors to ttrpc status errors.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	var code codes.Code
	switch {
	case errors.Is(err, errdefs.ErrEOF):
		// Upstream's runtime treats any error as the end of a stream, and
		// upstream's agent sends this message with code Internal.
		return status.Error(codes.Internal, client.ReadEOFMessage+": "+err.Error())
	case errors.Is(err, errdefs.ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, errdefs.ErrAlreadyExists):
		code = codes.AlreadyExists
	case errors.Is(err, errdefs.ErrFailedPrecondition):
		code = codes.FailedPrecondition
	case errors.Is(err, errdefs.ErrInvalidArgument):
		code = codes.InvalidArgument
	case errors.Is(err, errdefs.ErrUnimplemented):
		code = codes.Unimplemented
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	default:
		code = codes.Internal
	}
	return status.Error(code, err.Error())
}

// unimplemented returns the error for a protocol method the agent does not support.
func unimplemented(method string) error {
	return fmt.Errorf("%s is not supported by this agent: %w", method, errdefs.ErrUnimplemented)
}
