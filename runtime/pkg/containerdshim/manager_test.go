package containerdshim

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/shim"
)

// writeAddress writes a bundle's address file naming the socket sock and
// returns the file's path.
func writeAddress(t *testing.T, dir, sock string) string {
	t.Helper()
	path := filepath.Join(dir, "address")
	if err := os.WriteFile(path, []byte("unix://"+sock), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRemoveDeadShimSocketRemovesStaleSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "shim.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	// A killed shim never unlinks its socket.
	l.SetUnlinkOnClose(false)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	if err := removeDeadShimSocket(writeAddress(t, dir, sock)); err != nil {
		t.Fatalf("removeDeadShimSocket: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket %s still exists (Lstat: %v)", sock, err)
	}
}

func TestRemoveDeadShimSocketKeepsLiveSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "shim.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	if err := removeDeadShimSocket(writeAddress(t, dir, sock)); err != nil {
		t.Fatalf("removeDeadShimSocket: %v", err)
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("the socket of a live shim was removed: %v", err)
	}
}

func TestRemoveDeadShimSocketWithoutAddressFile(t *testing.T) {
	if err := removeDeadShimSocket(filepath.Join(t.TempDir(), "address")); err != nil {
		t.Errorf("removeDeadShimSocket without an address file: %v, want nil", err)
	}
}

func TestServeCommandOutlivesStartContext(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("needs true(1) in PATH")
	}
	ctx, cancel := context.WithCancel(namespaces.WithNamespace(context.Background(), "kata-test"))
	// The start action's context is over by the time the serving shim runs.
	cancel()

	cmd, err := serveCommand(ctx, &shim.CommandConfig{Runtime: truePath, Address: "/run/containerd/containerd.sock", Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the serving shim after its start context ended: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serving shim stand-in: %v", err)
	}
}
