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
