package check

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/riscv"
)

// goarchMachines maps GOARCH values to the machine names uname(2) reports.
var goarchMachines = map[string]string{
	"amd64":   "x86_64",
	"arm64":   "aarch64",
	"riscv64": "riscv64",
	"386":     "i686",
	"ppc64le": "ppc64le",
	"s390x":   "s390x",
}

type archResult struct {
	Check
	// kernelMachine is the machine the kernel runs on.
	kernelMachine string
}

// checkArchitecture distinguishes a riscv64 host from any other, including a riscv64
// binary run under qemu-user on another machine. There uname(2) reports
// riscv64, because qemu-user rewrites it, while /proc/sys/kernel/arch
// (Linux 6.1 and later) and /proc/cpuinfo come from the real kernel.
func checkArchitecture(h *Host) archResult {
	c := Check{Name: "architecture"}
	binMachine := goarchMachines[h.GOARCH]
	if binMachine == "" {
		binMachine = h.GOARCH
	}

	kernelMachine, source := h.Uname.Machine, "uname"
	if b, err := h.readFile("/proc/sys/kernel/arch"); err == nil && len(bytes.TrimSpace(b)) > 0 {
		kernelMachine, source = strings.TrimSpace(string(b)), "/proc/sys/kernel/arch"
	}
	cpu := describeForeignCPU(h)

	c.detail("binary", fmt.Sprintf("GOARCH=%s", h.GOARCH))
	c.detail("uname machine", h.Uname.Machine)
	c.detail("kernel machine", fmt.Sprintf("%s (%s)", kernelMachine, source))
	if h.Uname.Release != "" {
		c.detail("kernel release", h.Uname.Release)
	}

	switch {
	case h.GOARCH != "riscv64":
		c.Result = Fail
		c.Reason = fmt.Sprintf("this is not a riscv64 host: this kata-runtime is built for %s (GOARCH=%s) and the kernel reports machine %s",
			binMachine, h.GOARCH, kernelMachine)
		c.Fix = "run the riscv64 build (build/riscv64/kata-runtime) on a riscv64 host whose CPU has the H extension"

	case kernelMachine != "riscv64":
		c.Result = Fail
		c.Reason = fmt.Sprintf("this is not a riscv64 host: the kernel runs on %s (%s)", kernelMachine, source)
		if cpu != "" {
			c.Reason += " and /proc/cpuinfo describes " + cpu
		}
		if h.Uname.Machine == "riscv64" {
			c.Reason += "; uname reports riscv64 only because this riscv64 binary runs under user-mode emulation (qemu-user), which cannot use the host's KVM"
		}
		c.Fix = "run kata-runtime check on a riscv64 host whose CPU has the H extension, or inside a riscv64 VM (qemu-system-riscv64 -cpu rv64,h=true)"

	case cpu != "" && source == "uname":
		// Kernels before 6.1 have no /proc/sys/kernel/arch, so only
		// /proc/cpuinfo shows that qemu-user rewrote uname.
		c.Result = Fail
		c.Reason = fmt.Sprintf("this is not a riscv64 host: uname reports riscv64, but /proc/cpuinfo describes %s, so this riscv64 binary most likely runs under user-mode emulation (qemu-user)", cpu)
		c.Fix = "run kata-runtime check on a riscv64 host whose CPU has the H extension, or inside a riscv64 VM (qemu-system-riscv64 -cpu rv64,h=true)"

	case cpu != "":
		c.Result = Fail
		c.Reason = fmt.Sprintf("the kernel reports riscv64, but /proc/cpuinfo describes %s", cpu)
		c.Fix = "check that /proc is the host's procfs"

	default:
		c.Result = Pass
		c.Reason = "riscv64 host"
		if h.Uname.Release != "" {
			c.Reason += ", kernel " + h.Uname.Release
		}
	}
	return archResult{Check: c, kernelMachine: kernelMachine}
}

// describeForeignCPU returns a phrase naming the CPU when /proc/cpuinfo is
// not a RISC-V one ("an x86 CPU (AMD EPYC)"), or "" when it is RISC-V or
// cannot be read.
func describeForeignCPU(h *Host) string {
	f, err := h.readFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	info, err := riscv.ParseCPUInfo(bytes.NewReader(f))
	if err != nil {
		return ""
	}
	if _, err := info.Summarize(); !errors.Is(err, riscv.ErrNoISA) {
		return ""
	}

	first := info.Harts[0]
	model := first.ModelName
	switch {
	case first.Other["vendor_id"] != "" || first.Other["flags"] != "":
		if model == "" {
			model = first.Other["vendor_id"]
		}
		return fmt.Sprintf("an x86 CPU (%s)", model)
	case first.Other["cpu implementer"] != "" || first.Other["features"] != "":
		return "an Arm CPU"
	}
	return "a CPU without an isa line"
}
