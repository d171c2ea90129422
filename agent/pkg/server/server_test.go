package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/container"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/guest"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/metrics"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/reaper"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/sandbox"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// newTestService returns a service over an empty sandbox whose directories
// are temporary and whose OCI runtime does not exist, so that no request
// can start a container.
func newTestService(t testing.TB) *Service {
	t.Helper()
	dir := t.TempDir()
	log := logrus.NewEntry(logrus.New())
	log.Logger.SetLevel(logrus.PanicLevel)
	sb := sandbox.New(sandbox.Config{
		Runtime: container.Runtime{
			Command:    filepath.Join(dir, "no-such-runtime"),
			StateRoot:  filepath.Join(dir, "oci"),
			BundleRoot: filepath.Join(dir, "bundles"),
			Reaper:     reaper.New(log),
			Log:        log,
		},
		ResolvConf: filepath.Join(dir, "resolv.conf"),
	}, log)
	return New(Config{
		Version: "test",
		Sandbox: sb,
		Sysfs:   guest.Sysfs(filepath.Join(dir, "sys")),
		Metrics: metrics.New(sb.Containers),
		Log:     log,
	})
}

func TestToStatus(t *testing.T) {
	tests := []struct {
		err  error
		want codes.Code
	}{
		{fmt.Errorf("container c1: %w", errdefs.ErrNotFound), codes.NotFound},
		{fmt.Errorf("exec e1: %w", errdefs.ErrAlreadyExists), codes.AlreadyExists},
		{fmt.Errorf("container c1 is running: %w", errdefs.ErrFailedPrecondition), codes.FailedPrecondition},
		{fmt.Errorf("invalid id: %w", errdefs.ErrInvalidArgument), codes.InvalidArgument},
		{fmt.Errorf("CopyFile: %w", errdefs.ErrUnimplemented), codes.Unimplemented},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{errors.New("mount failed"), codes.Internal},
		{status.Error(codes.ResourceExhausted, "kept"), codes.ResourceExhausted},
	}
	for _, tt := range tests {
		if got := status.Code(toStatus(tt.err)); got != tt.want {
			t.Errorf("toStatus(%v) code = %v, want %v", tt.err, got, tt.want)
		}
	}
	if toStatus(nil) != nil {
		t.Errorf("toStatus(nil) != nil")
	}
}

func TestEOFStatusMatchesClient(t *testing.T) {
	err := toStatus(fmt.Errorf("stdout of c1: %w", errdefs.ErrEOF))
	if !client.IsEOF(err) {
		t.Errorf("client.IsEOF(%v) = false, want true", err)
	}
	if status.Code(err) != codes.Internal {
		t.Errorf("EOF code = %v, want Internal as upstream's agent sends", status.Code(err))
	}
}

func TestInterceptRecoversPanic(t *testing.T) {
	s := newTestService(t)
	panicking := func(context.Context, func(any) error) (any, error) {
		panic("handler bug")
	}
	_, err := s.intercept(context.Background(), func(any) error { return nil }, &ttrpc.UnaryServerInfo{FullMethod: "/grpc.AgentService/Test"}, panicking)
	if status.Code(err) != codes.Internal {
		t.Fatalf("intercept of a panicking method = %v, want code Internal", err)
	}
	if !strings.Contains(err.Error(), "/grpc.AgentService/Test") {
		t.Errorf("error %q does not name the method", err)
	}
}

// TestServeOverUnixSocket runs the registered services on a Unix socket and
// checks Health and the reply to a method this agent does not declare.
func TestServeOverUnixSocket(t *testing.T) {
	s := newTestService(t)
	srv, err := s.NewTTRPCServer()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(context.Background(), l) }()
	defer func() { _ = srv.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "unix://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()

	check, err := c.Health.Check(ctx, &grpc.CheckRequest{})
	if err != nil || check.Status != grpc.HealthCheckResponse_SERVING {
		t.Errorf("Check = %v, %v, want SERVING", check, err)
	}
	version, err := c.Health.Version(ctx, &grpc.CheckRequest{})
	if err != nil || version.AgentVersion != "test" {
		t.Errorf("Version = %v, %v, want agent version test", version, err)
	}

	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	raw := ttrpc.NewClient(conn)
	defer func() { _ = raw.Close() }()
	err = raw.Call(ctx, "grpc.AgentService", "CopyFile", &emptypb.Empty{}, &emptypb.Empty{})
	if status.Code(err) != codes.Unimplemented || !strings.Contains(err.Error(), "CopyFile") {
		t.Errorf("CopyFile = %v, want Unimplemented naming the method", err)
	}

	_, err = c.AgentService.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c1", ExecId: "e1"})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "c1") {
		t.Errorf("WaitProcess of an unknown container = %v, want NotFound naming c1", err)
	}
	_, err = c.AgentService.SignalProcess(ctx, &grpc.SignalProcessRequest{ContainerId: "c1", ExecId: "../../x", Signal: 9})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("SignalProcess with a path in the exec id = %v, want InvalidArgument", err)
	}

	metrics, err := c.AgentService.GetMetrics(ctx, &grpc.GetMetricsRequest{})
	if err != nil || !strings.Contains(metrics.Metrics, `code="NotFound"`) {
		t.Errorf("GetMetrics = %v, want the NotFound request counted", err)
	}
}

func TestWithIDs(t *testing.T) {
	log := logrus.NewEntry(logrus.New())
	got := withIDs(log, &grpc.WaitProcessRequest{ContainerId: "c1", ExecId: "e1"})
	if got.Data["container"] != "c1" || got.Data["exec"] != "e1" {
		t.Errorf("withIDs fields = %v, want container=c1 exec=e1", got.Data)
	}
	got = withIDs(log, &grpc.CheckRequest{})
	if len(got.Data) != 0 {
		t.Errorf("withIDs of a request without ids = %v, want no fields", got.Data)
	}
	if got := withIDs(log, nil); len(got.Data) != 0 {
		t.Errorf("withIDs(nil) = %v, want no fields", got.Data)
	}
}
