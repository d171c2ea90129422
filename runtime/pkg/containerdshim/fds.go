package containerdshim

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// MarkInheritedFDsCloseOnExec sets close-on-exec on every file descriptor
// above stderr that the process holds when it calls it, so that QEMU,
// virtiofsd and any other child the shim starts get only the descriptors it
// hands them.
//
// containerd's shim library receives the ttrpc listening socket as fd 3 and
// leaves it open without close-on-exec until the garbage collector closes it.
// A QEMU started before that inherits the socket, so after the shim is killed
// containerd's connections are queued rather than refused, and
// `containerd-shim-kata-v2 delete` cannot tell that the shim is gone. Pipes
// leaked by the process that started containerd reach QEMU the same way.
//
// Call it first in main, before any goroutine can start a process.
func MarkInheritedFDsCloseOnExec() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing the shim's file descriptors: %w", err)
	}

	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// CloseOnExec ignores EBADF, which the descriptor ReadDir used for
		// /proc/self/fd returns, as it is closed by now.
		unix.CloseOnExec(fd)
	}
	return nil
}

// RedirectStderrToLog points the shim's stderr at the log fifo in the
// bundle directory (the working directory), which containerd reads into its
// own log. containerd's shim library does the same once its logger is set
// up. An error before that would otherwise go to /dev/null, so the shim
// would exit without a trace and containerd would only see its socket
// refuse connections. Without a reader on the fifo it does nothing.
func RedirectStderrToLog() {
	_ = redirectToFifo("log", int(os.Stderr.Fd()))
}

// redirectToFifo duplicates a write end of the fifo at path onto fd.
func redirectToFifo(path string, fd int) error {
	// O_NONBLOCK fails with ENXIO instead of waiting when no reader has
	// the fifo open. The writes after it should block as usual.
	w, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening log fifo %s: %w", path, err)
	}
	defer unix.Close(w)

	// Anything but a fifo, such as a user's file called log in the working
	// directory of `containerd-shim-kata-v2 -v`, is left alone.
	var st unix.Stat_t
	if err := unix.Fstat(w, &st); err != nil {
		return fmt.Errorf("reading the type of %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fmt.Errorf("%s is not a fifo", path)
	}
	if err := unix.SetNonblock(w, false); err != nil {
		return fmt.Errorf("making log fifo %s blocking: %w", path, err)
	}
	if err := unix.Dup3(w, fd, 0); err != nil {
		return fmt.Errorf("duplicating log fifo %s onto fd %d: %w", path, fd, err)
	}
	return nil
}
