package client

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/ttrpc"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// hybridVsockPeer imitates the host side of Firecracker's vsock device:
// it accepts on a Unix socket, reads the CONNECT line and lets reply decide
// what to do with the connection. It returns the socket path and a channel
// with each CONNECT line it read.
func hybridVsockPeer(t *testing.T, reply func(conn net.Conn, line string)) (string, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kata.hvsock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listening on %s: %v", path, err)
	}
	t.Cleanup(func() { _ = l.Close() })

	lines := make(chan string, 16)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err != nil {
					_ = conn.Close()
					return
				}
				lines <- line
				reply(conn, line)
			}()
		}
	}()
	return path, lines
}

func TestDialHybridVsockHandshake(t *testing.T) {
	tests := []struct {
		name    string
		reply   func(conn net.Conn, line string)
		timeout time.Duration
		wantErr string
	}{
		{
			name:  "ok",
			reply: func(conn net.Conn, _ string) { _, _ = conn.Write([]byte("OK 1073741824\n")) },
		},
		{
			name:    "closed",
			reply:   func(conn net.Conn, _ string) { _ = conn.Close() },
			wantErr: "EOF",
		},
		{
			name:    "garbage",
			reply:   func(conn net.Conn, _ string) { _, _ = conn.Write([]byte("NOPE\n")) },
			wantErr: "unexpected reply",
		},
		{
			name:    "ok without port",
			reply:   func(conn net.Conn, _ string) { _, _ = conn.Write([]byte("OK\n")) },
			wantErr: "unexpected reply",
		},
		{
			name:    "endless line",
			reply:   func(conn net.Conn, _ string) { _, _ = conn.Write([]byte(strings.Repeat("O", 1000))) },
			wantErr: "without a newline",
		},
		{
			name:    "slow peer",
			reply:   func(conn net.Conn, _ string) {},
			timeout: 200 * time.Millisecond,
			wantErr: "i/o timeout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, lines := hybridVsockPeer(t, tt.reply)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()

			conn, err := DialHybridVsock(ctx, path, 1024)
			if conn != nil {
				defer func() { _ = conn.Close() }()
			}

			select {
			case line := <-lines:
				if line != "CONNECT 1024\n" {
					t.Errorf("peer read %q, want %q", line, "CONNECT 1024\n")
				}
			case <-time.After(5 * time.Second):
				t.Errorf("peer read no CONNECT line")
			}

			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DialHybridVsock error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("DialHybridVsock succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("DialHybridVsock error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

type healthServer struct{}

func (healthServer) Check(context.Context, *grpc.CheckRequest) (*grpc.HealthCheckResponse, error) {
	return &grpc.HealthCheckResponse{Status: grpc.HealthCheckResponse_SERVING}, nil
}

func (healthServer) Version(context.Context, *grpc.CheckRequest) (*grpc.VersionCheckResponse, error) {
	return &grpc.VersionCheckResponse{AgentVersion: "test"}, nil
}

// TestDialHybridVsockServesTTRPC checks that the bytes after the handshake
// reach the ttrpc server intact: the peer replies OK and then hands the
// connection to a ttrpc server.
func TestDialHybridVsockServesTTRPC(t *testing.T) {
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	grpc.RegisterHealthService(srv, healthServer{})
	t.Cleanup(func() { _ = srv.Close() })

	conns := make(chan net.Conn, 1)
	path, _ := hybridVsockPeer(t, func(conn net.Conn, _ string) {
		_, _ = conn.Write([]byte("OK 5000\n"))
		conns <- conn
	})
	go func() { _ = srv.Serve(context.Background(), &chanListener{conns: conns}) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "hvsock://"+path+":1024")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer func() { _ = c.Close() }()

	resp, err := c.Health.Check(ctx, &grpc.CheckRequest{})
	if err != nil {
		t.Fatalf("Health.Check: %v", err)
	}
	if resp.Status != grpc.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check status = %v, want SERVING", resp.Status)
	}
}

// TestDialRetriesUntilListening starts the listener only after Dial began,
// as a guest agent does when it comes up after the VM starts.
func TestDialRetriesUntilListening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	srv, err := ttrpc.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	grpc.RegisterHealthService(srv, healthServer{})
	t.Cleanup(func() { _ = srv.Close() })

	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("unix", path)
		if err != nil {
			return
		}
		_ = srv.Serve(context.Background(), l)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, "unix://"+path, WithRetryInterval(20*time.Millisecond))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer func() { _ = c.Close() }()

	if _, err := c.Health.Version(ctx, &grpc.CheckRequest{}); err != nil {
		t.Fatalf("Health.Version: %v", err)
	}
}

func TestDialGivesUpWhenContextEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	_, err := Dial(ctx, "unix://"+path, WithRetryInterval(20*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial error = %v, want context.DeadlineExceeded", err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Dial error = %v, want it to carry the last attempt's ENOENT", err)
	}
}

func TestIsEOF(t *testing.T) {
	if IsEOF(nil) {
		t.Errorf("IsEOF(nil) = true, want false")
	}
	if IsEOF(errors.New(ReadEOFMessage)) {
		t.Errorf("IsEOF(plain error) = true, want false: only a ttrpc status counts")
	}
}

// chanListener is a net.Listener fed by a channel, so that a test can hand
// connections to a ttrpc server after its own handshake.
type chanListener struct {
	conns chan net.Conn
}

func (l *chanListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

func (l *chanListener) Close() error   { return nil }
func (l *chanListener) Addr() net.Addr { return &net.UnixAddr{Name: "hvsock", Net: "unix"} }
