package check

import (
	"fmt"
)

// checkKVMPMU reports whether programs in KVM guests can read the time CSR,
// as Go's runtime (the kata-agent) and the vDSO do. The bool is false when
// the check does not apply.
//
// A Linux guest grants user mode the time CSR (scounteren.TM) only in its SBI
// PMU driver, and KVM offers guests the SBI PMU only on hosts with Sscofpmf.
// Without it, the guest's first user-mode rdtime ends in SIGILL. This was
// seen with Linux 6.12 as host and guest kernel.
func (e *environment) checkKVMPMU() (Check, bool) {
	c := Check{Name: "kvm sbi pmu"}
	if e.tcg() || e.cpuErr != nil || !e.cpu.Hypervisor {
		// TCG guests boot OpenSBI, which grants user mode the time CSR, and
		// the cpu check already fails a host that cannot run KVM.
		return c, false
	}
	if e.cpu.ISA.Has("sscofpmf") {
		c.Result = Pass
		c.Reason = "the CPU has Sscofpmf, so KVM offers guests the SBI PMU, whose driver lets guest programs read the time CSR"
		return c, true
	}
	c.Result = Fail
	c.Reason = fmt.Sprintf("the CPU lacks Sscofpmf (ISA %s), so KVM offers guests no SBI PMU, guest kernels never grant user mode the time CSR, and the kata-agent (a Go program) dies with SIGILL at its first clock read", shortISA(e.cpu.ISAString))
	c.Fix = "use a riscv64 CPU with Sscofpmf; when this host is itself a QEMU guest, add sscofpmf=true to its -cpu option; or set accelerator = \"tcg\" in [hypervisor.qemu]"
	return c, true
}
