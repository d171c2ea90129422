package containerdshim

import (
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
