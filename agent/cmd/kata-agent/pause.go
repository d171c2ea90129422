package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// pause holds a PID namespace open: as its init it ignores the signals the
// kernel would deliver to it, reaps orphans reparented to it, and runs until
// SIGKILL.
func pause() {
	signal.Ignore(unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	children := make(chan os.Signal, 1)
	signal.Notify(children, unix.SIGCHLD)
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || (err != nil && err != unix.EINTR) {
				break
			}
		}
		<-children
	}
}
