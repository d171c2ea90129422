package containerdshim

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMarkInheritedFDs(t *testing.T) {
	var p [2]int
	// A pipe without O_CLOEXEC plays the part of a descriptor inherited from the
	// process that started the shim.
	if err := unix.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	for _, fd := range p {
		if flags := fdFlags(t, fd); flags&unix.FD_CLOEXEC != 0 {
			t.Fatalf("fd %d: close-on-exec set before the call, flags %#x", fd, flags)
		}
	}

	if err := MarkInheritedFDsCloseOnExec(); err != nil {
		t.Fatal(err)
	}

	for _, fd := range p {
		if flags := fdFlags(t, fd); flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("fd %d: close-on-exec not set, flags %#x", fd, flags)
		}
	}
	for fd := range 3 {
		if flags := fdFlags(t, fd); flags&unix.FD_CLOEXEC != 0 {
			t.Errorf("standard fd %d marked close-on-exec", fd)
		}
	}
}

func fdFlags(t *testing.T, fd int) int {
	t.Helper()
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil {
		t.Fatalf("F_GETFD on fd %d: %v", fd, err)
	}
	return flags
}

func TestRedirectToFifo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}

	// Without a reader the redirect must fail at once rather than block.
	p := testPipe(t)
	if err := redirectToFifo(path, p[1]); err == nil {
		t.Fatal("redirect succeeded without a reader on the fifo")
	}

	r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := redirectToFifo(path, p[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(p[1], []byte("early failure\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "early failure\n" {
		t.Errorf("fifo got %q, want the line written to the redirected fd", got)
	}
}

func TestRedirectToFifoRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("user data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testPipe(t)

	if err := redirectToFifo(path, p[1]); err == nil {
		t.Fatal("redirect onto a regular file succeeded")
	}
	if _, err := unix.Write(p[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "user data\n" {
		t.Errorf("regular file now holds %q", data)
	}
}

// testPipe returns a pipe that the test closes at its end. Its write end
// is the descriptor that redirectToFifo replaces.
func testPipe(t *testing.T) [2]int {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(p[0])
		unix.Close(p[1])
	})
	return p
}
