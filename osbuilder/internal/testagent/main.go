// Command testagent stands in for kata-agent in osbuilder's boot tests
// until the project's agent is available: it prints a console marker with
// its PID. As PID 1 (an agent-init guest) it mounts /proc, prints its own
// command line and powers the guest off; under systemd it keeps running
// like a service.
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Marker starts every line the stand-in prints; tests look for it.
const Marker = "osbuilder-test-agent:"

func main() {
	pid := os.Getpid()
	fmt.Printf("%s started as pid %d\n", Marker, pid)
	if pid != 1 {
		for {
			time.Sleep(time.Hour)
		}
	}

	if err := unix.Mount("proc", "/proc", "proc", 0, ""); err != nil {
		fmt.Printf("%s mounting /proc: %v\n", Marker, err)
	}
	if data, err := os.ReadFile("/proc/1/cmdline"); err == nil {
		fmt.Printf("%s init is %s\n", Marker, string(data))
	}
	fmt.Printf("%s powering off\n", Marker)
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}
