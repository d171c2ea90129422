package channel

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/console"
	"github.com/sirupsen/logrus"
)

func testLog() *logrus.Entry { return logrus.NewEntry(logrus.New()) }

func TestSelectFindsPortThroughSysfs(t *testing.T) {
	sys := t.TempDir()
	for name, port := range map[string]string{"vport1p1": "org.qemu.guest_agent.0", "vport1p2": "agent.channel.0"} {
		dir := filepath.Join(sys, "class", "virtio-ports", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "name"), []byte(port+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	got := Select("", filepath.Join(t.TempDir(), "agent.channel.0"), "vsock://-1:1024", sys)
	if want := "serial:///dev/vport1p2"; got != want {
		t.Errorf("Select = %q, want %q", got, want)
	}
}

func TestSelect(t *testing.T) {
	dir := t.TempDir()
	port := filepath.Join(dir, "agent.channel.0")
	tests := []struct {
		name       string
		addr       string
		portExists bool
		want       string
	}{
		{name: "explicit address wins", addr: "unix:///tmp/a.sock", portExists: true, want: "unix:///tmp/a.sock"},
		{name: "serial port present", portExists: true, want: "serial://" + port},
		{name: "vsock otherwise", want: "vsock://-1:1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(port)
			if tt.portExists {
				if err := os.WriteFile(port, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := Select(tt.addr, port, "vsock://-1:1024", filepath.Join(dir, "no-sysfs")); got != tt.want {
				t.Errorf("Select = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListenRejectsBadAddresses(t *testing.T) {
	for _, addr := range []string{"", "tcp://0.0.0.0:1024", "vsock://1024", "vsock://x:1024", "vsock://-1:port", "unix://"} {
		if l, err := Listen(addr, testLog()); err == nil {
			_ = l.Close()
			t.Errorf("Listen(%q) succeeded, want an error", addr)
		}
	}
}

func TestListenUnixReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Listen("unix://"+path, testLog())
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	defer func() { _ = l.Close() }()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	_ = c.Close()
}

// TestSerialListenerOverPty runs the listener on a pseudo terminal slave,
// which behaves like an hvc console port, and checks that bytes pass raw
// in both directions and that the port is reopened after Close.
func TestSerialListenerOverPty(t *testing.T) {
	master, slave, err := console.NewPty()
	if err != nil {
		t.Skipf("no pseudo terminals: %v", err)
	}
	defer func() { _ = master.Close() }()

	l := NewSerialListener(slave, testLog())
	defer func() { _ = l.Close() }()

	for round := 0; round < 2; round++ {
		conn, err := l.Accept()
		if err != nil {
			t.Fatalf("round %d: Accept: %v", round, err)
		}

		// Bytes a line discipline would alter: CR, ^C, ^D, NUL.
		payload := []byte{'\r', 0x03, 0x04, 0x00, '\n', 0xff}
		if _, err := master.Write(payload); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(payload))
		if _, err := io.ReadFull(conn, got); err != nil {
			t.Fatalf("round %d: reading from the port: %v", round, err)
		}
		if string(got) != string(payload) {
			t.Errorf("round %d: port read %q, want %q", round, got, payload)
		}

		if _, err := conn.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, 4)
		if _, err := io.ReadFull(master, back); err != nil {
			t.Fatal(err)
		}
		if string(back) != "pong" {
			t.Errorf("round %d: host read %q, want %q", round, back, "pong")
		}
		_ = conn.Close()
	}
}

func TestSerialListenerOneConnectionAtATime(t *testing.T) {
	_, slave, err := console.NewPty()
	if err != nil {
		t.Skipf("no pseudo terminals: %v", err)
	}
	l := NewSerialListener(slave, testLog())
	defer func() { _ = l.Close() }()

	first, err := l.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if c != nil {
			_ = c.Close()
		}
		accepted <- err
	}()

	select {
	case err := <-accepted:
		t.Fatalf("second Accept returned (%v) while the first connection was open", err)
	case <-time.After(200 * time.Millisecond):
	}

	_ = first.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case err := <-accepted:
		if err != nil {
			t.Errorf("second Accept: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("second Accept did not return after the first connection closed")
	}
}
