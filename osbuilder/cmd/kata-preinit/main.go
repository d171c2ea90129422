// Command kata-preinit is the /init of the boot initrd osbuilder writes for
// guest images: it loads the modules needed to mount the root disk, mounts
// it and executes the image's /sbin/init as PID 1.
package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/preinit"
)

func main() {
	err := preinit.Run(os.Stderr)
	fmt.Fprintf(os.Stderr, "kata-preinit: %v; powering off\n", err)
	// PID 1 must not exit: the kernel would panic and, under QEMU without
	// -no-reboot, restart the guest forever. Powering off ends the VM.
	time.Sleep(time.Second)
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Fprintf(os.Stderr, "kata-preinit: powering off: %v\n", err)
	}
}
