package rootfs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// BinfmtDir is the kernel's binfmt_misc directory of handlers.
const BinfmtDir = "/proc/sys/fs/binfmt_misc"

// CheckForeignExec returns nil when this host can run riscv64 programs:
// natively, or through a qemu-riscv64 binfmt_misc handler that is enabled.
// mmdebstrap needs that to run the guest's maintainer scripts.
func CheckForeignExec(hostArch, binfmtDir string) error {
	if hostArch == "riscv64" {
		return nil
	}
	handler := filepath.Join(binfmtDir, "qemu-riscv64")
	data, err := os.ReadFile(handler)
	if err != nil {
		return fmt.Errorf("this %s host cannot run riscv64 programs: binfmt_misc has no qemu-riscv64 handler (%s: %w); "+
			"install qemu-user-static and binfmt-support, then run 'update-binfmts --enable qemu-riscv64' as root "+
			"(or mount binfmt_misc first: mount -t binfmt_misc binfmt_misc %s)", hostArch, handler, err, binfmtDir)
	}
	if !bytes.HasPrefix(data, []byte("enabled")) {
		return fmt.Errorf("the qemu-riscv64 binfmt_misc handler in %s is disabled: run 'update-binfmts --enable qemu-riscv64' as root", binfmtDir)
	}
	return nil
}

// HostArch is the running program's architecture in Debian's naming, which
// matches Go's for the hosts osbuilder supports (amd64, arm64, riscv64).
func HostArch() string { return runtime.GOARCH }
