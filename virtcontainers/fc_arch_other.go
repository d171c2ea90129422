//go:build !riscv64

package virtcontainers

// otherFCArch models Firecracker's released x86_64 and aarch64 builds. This
// project targets riscv64 hosts; these rules let the backend's lifecycle be
// built and unit-tested (with the race detector) on development hosts.
type otherFCArch struct{}

var _ fcArch = otherFCArch{}

func newFCArch() fcArch { return otherFCArch{} }

// checkBootAssets accepts any kernel: the released builds load an ELF
// vmlinux (x86_64) or an Image (aarch64), and both accept an initrd.
func (otherFCArch) checkBootAssets(kernelPath, initrdPath string) error { return nil }

func (otherFCArch) kernelParams(p fcKernelParams) []string {
	params := []string{"reboot=k", "panic=1", "pci=off", "net.ifnames=0"}
	if p.Debug {
		params = append([]string{"console=ttyS0"}, params...)
	} else {
		params = append([]string{"8250.nr_uarts=0"}, params...)
	}
	params = append(params, p.rootParams()...)
	return append(params, p.agentParams()...)
}

// interruptSources returns 0: the x86_64 and aarch64 builds serve more
// virtio-mmio devices than a Kata sandbox uses.
func (otherFCArch) interruptSources() int { return 0 }

// maxCmdline returns 2047, an estimate from x86_64 Linux's command line of
// 2048 bytes with the NUL; aarch64 allows more.
func (otherFCArch) maxCmdline() int { return 2047 }

func (otherFCArch) hasSerial(console bool) bool { return true }
