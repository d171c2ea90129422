package containerdshim

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
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
