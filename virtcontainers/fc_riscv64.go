package virtcontainers

import (
	"fmt"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/riscv"
)

// riscv64 facts of Firecracker's riscv64 port (an open upstream pull request;
// there is no released riscv64 Firecracker):
//   - it loads an uncompressed Image kernel through its PE loader and no
//     initrd; an ELF vmlinux does not load;
//   - block, net and vsock are virtio-mmio devices, and a ns16550a serial
//     port is added only when the kernel command line has console=;
//   - its APLIC declares riscv,num-sources = 10, so at most 10 devices can
//     have an interrupt;
//   - the kernel command line holds at most 1024 bytes with its NUL
//     (CMDLINE_MAX_SIZE in arch/riscv64/layout.rs, from Linux's
//     arch/riscv/include/uapi/asm/setup.h);
//   - SendCtrlAltDel fails with 400, so the backend stops the VM with signals.

// riscv64InterruptSources is the APLIC's riscv,num-sources in the riscv64
// port of Firecracker.
//
// NOTE: the value is hard-coded in the port's FDT code and differs between
// commits of the pull request: one sets 96, with a TODO to match the lines
// it allocates. FirecrackerOptions.InterruptSources overrides it.
const riscv64InterruptSources = 10

// riscv64MaxCmdline is the longest kernel command line the riscv64 port
// accepts, without the terminating NUL.
const riscv64MaxCmdline = 1023

type riscv64FCArch struct{}

var _ fcArch = riscv64FCArch{}

func newFCArch() fcArch { return riscv64FCArch{} }

func (riscv64FCArch) checkBootAssets(kernelPath, initrdPath string) error {
	if initrdPath != "" {
		return fmt.Errorf("initrd %s: Firecracker on riscv64 cannot load an initrd: set image in [hypervisor.firecracker] and remove initrd: %w",
			initrdPath, ErrNotSupported)
	}
	return checkRISCVImage(kernelPath)
}

// checkRISCVImage accepts an uncompressed riscv64 Image and rejects ELF,
// compressed and foreign kernels with an error that names the format found.
//
// NOTE: the header does not show whether virtio-blk, ext4 and vsock are
// built in, which the guest needs without an initrd. A kernel that has them
// as modules boots but panics when it mounts the root device.
func checkRISCVImage(path string) error {
	info, err := riscv.DetectKernelFile(path)
	if err != nil {
		return fmt.Errorf("checking guest kernel %s: %w", path, err)
	}
	if info.Format == riscv.KernelImage {
		return nil
	}
	return fmt.Errorf("guest kernel %s is not an uncompressed riscv64 Image but %s (%s): Firecracker on riscv64 boots only an uncompressed riscv64 Image; use arch/riscv/boot/Image, or decompress the distribution's vmlinuz: %w",
		path, info.Format, info.Detail, ErrNotSupported)
}

func (riscv64FCArch) kernelParams(p fcKernelParams) []string {
	var params []string
	if p.Debug {
		params = append(params, "console=ttyS0")
	} else {
		// Without console= the VMM adds no serial port; keep the 8250
		// driver from probing for one.
		params = append(params, "8250.nr_uarts=0")
	}
	params = append(params, "reboot=k", "panic=1", "pci=off", "net.ifnames=0")
	params = append(params, p.rootParams()...)
	return append(params, p.agentParams()...)
}

func (riscv64FCArch) interruptSources() int { return riscv64InterruptSources }

func (riscv64FCArch) maxCmdline() int { return riscv64MaxCmdline }

func (riscv64FCArch) hasSerial(console bool) bool { return console }
