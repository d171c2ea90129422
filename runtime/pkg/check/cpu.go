package check

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/kvm"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/riscv"
)

// environment carries what one Run has learned, so that later checks can
// explain their results with earlier findings (no vCPU because no H).
type environment struct {
	host *Host
	in   Input

	cpu    riscv.Summary
	cpuErr error

	kvm    *kvm.Result
	kvmErr error
}

func (e *environment) loadCPU() {
	data, err := e.host.readFile("/proc/cpuinfo")
	if err != nil {
		e.cpuErr = fmt.Errorf("reading %s: %w", e.host.path("/proc/cpuinfo"), err)
		return
	}
	info, err := riscv.ParseCPUInfo(bytes.NewReader(data))
	if err != nil {
		e.cpuErr = err
		return
	}
	e.cpu, e.cpuErr = info.Summarize()
}

// tcg reports whether the configuration runs guests under TCG, which needs
// neither the H extension nor KVM.
func (e *environment) tcg() bool {
	return e.in.HypervisorType != vc.FirecrackerHypervisor && e.in.Hypervisor != nil &&
		e.in.Hypervisor.Accelerator == vc.AccelTCG
}

// hypervisorType returns the configured VMM, QEMU when none is configured.
func (e *environment) hypervisorType() vc.HypervisorType {
	if e.in.HypervisorType == "" {
		return vc.QemuHypervisor
	}
	return e.in.HypervisorType
}

// needKVM returns the result for a missing KVM feature: Warn under TCG, Fail otherwise.
func (e *environment) needKVM() Result {
	if e.tcg() {
		return Warn
	}
	return Fail
}

func (e *environment) checkCPU() Check {
	c := Check{Name: "cpu"}
	if e.cpuErr != nil && e.cpu.Harts == 0 {
		c.Result = Fail
		c.Reason = fmt.Sprintf("cannot read the CPU description: %v", e.cpuErr)
		c.Fix = "check that /proc is mounted and that this is a riscv64 Linux host"
		return c
	}

	c.detail("harts", strconv.Itoa(e.cpu.Harts))
	switch {
	case strings.HasPrefix(e.cpu.Vendor, "unknown"):
		c.detail("vendor", e.cpu.Vendor)
	case e.cpu.Vendor != "":
		c.detail("vendor", fmt.Sprintf("%s (mvendorid %s)", e.cpu.Vendor, e.cpu.VendorID))
	default:
		c.detail("vendor", "not reported (no mvendorid line)")
	}
	if e.cpu.Model != "" {
		c.detail("model", e.cpu.Model)
	}
	if e.cpu.ModelName != "" && e.cpu.ModelName != e.cpu.Model {
		c.detail("model name", e.cpu.ModelName)
	}
	if e.cpu.MMU != "" {
		c.detail("MMU", e.cpu.MMU)
	} else {
		c.detail("MMU", "none reported (no mmu line)")
	}
	if e.cpu.ISAString != "" {
		c.detail("ISA", e.cpu.ISAString)
	}
	for _, x := range riscv.VirtExtensions() {
		state := "missing"
		if e.cpu.ISA.Has(x.Name) {
			state = "present"
		}
		c.detail(x.Name, fmt.Sprintf("%s: %s", state, x.Purpose))
	}

	switch {
	case e.cpuErr != nil:
		c.Result = Fail
		c.Reason = fmt.Sprintf("cannot read the ISA from /proc/cpuinfo: %v", e.cpuErr)
		c.Fix = "check that this is a riscv64 Linux host; report the /proc/cpuinfo text if it is"
	case e.cpu.Hypervisor:
		c.Result = Pass
		c.Reason = fmt.Sprintf("the H extension is present on all %d harts", e.cpu.Harts)
	case e.cpu.HypervisorHarts > 0:
		c.Result = e.needKVM()
		c.Reason = fmt.Sprintf("the H extension is present on %d of %d harts only, so KVM cannot use it", e.cpu.HypervisorHarts, e.cpu.Harts)
		c.Fix = "boot the kernel on harts that all have the H extension, or set accelerator = \"tcg\" in [hypervisor.qemu] to emulate guests"
	default:
		c.Result = e.needKVM()
		c.Reason = fmt.Sprintf("the CPU has no H extension (ISA %s), so KVM cannot run guests", shortISA(e.cpu.ISAString))
		c.Fix = "use a riscv64 CPU with the H extension (for example SiFive P550 or SpacemiT X100), or set accelerator = \"tcg\" in [hypervisor.qemu] to emulate guests, which is much slower"
	}
	if c.Result == Warn {
		c.Reason += "; the configuration uses TCG, which does not need it"
	}
	if e.cpu.MMU == "" && e.cpuErr == nil {
		c.Result = Fail
		c.Reason += "; the kernel reports no MMU, and a nommu kernel cannot run VMs"
		c.Fix = "run a riscv64 kernel with MMU support (sv39 or larger)"
	}
	return c
}

// shortISA cuts a long ISA string for one-line messages.
func shortISA(s string) string {
	if base, _, ok := strings.Cut(s, "_"); ok {
		return base + "_..."
	}
	return s
}
