package check

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/kvm"
)

func (e *environment) kvmDevice() string { return e.host.path("/dev/kvm") }

func (e *environment) probeKVM() {
	if _, err := os.Stat(e.kvmDevice()); err != nil {
		e.kvmErr = err
		return
	}
	e.kvm, e.kvmErr = e.host.Prober.KVM(e.kvmDevice())
}

func (e *environment) checkKVM() Check {
	c := Check{Name: "kvm"}
	dev := e.kvmDevice()
	noH := e.cpuErr == nil && !e.cpu.Hypervisor

	if e.kvm == nil {
		c.Result = e.needKVM()
		switch {
		case errors.Is(e.kvmErr, fs.ErrNotExist) && noH:
			c.Reason = fmt.Sprintf("%s does not exist, because the CPU has no H extension", dev)
			c.Fix = "use a riscv64 CPU with the H extension, or set accelerator = \"tcg\" in [hypervisor.qemu]"
		case errors.Is(e.kvmErr, fs.ErrNotExist):
			c.Reason = fmt.Sprintf("%s does not exist", dev)
			c.Fix = "load the kvm module (modprobe kvm, or pass --load-modules) or build the kernel with CONFIG_KVM"
		default:
			c.Reason = fmt.Sprintf("cannot use %s: %v", dev, e.kvmErr)
			c.Fix = "check the device node and its permissions"
		}
		return c
	}

	r := e.kvm
	c.detail("API version", strconv.Itoa(r.APIVersion))
	for _, cap := range r.Capabilities {
		c.detail(cap.Name, strconv.Itoa(cap.Value))
	}

	switch {
	case errors.Is(e.kvmErr, kvm.ErrOpen) && errors.Is(e.kvmErr, fs.ErrPermission):
		c.Result = Warn
		c.Reason = fmt.Sprintf("%s exists, but this user cannot open it: %v", dev, e.kvmErr)
		c.Fix = "run kata-runtime check as root, or add the user to the group that owns " + dev
	case e.kvmErr == nil:
		c.Result = Pass
		c.Reason = fmt.Sprintf("KVM API %d: created a VM and a vCPU", r.APIVersion)
		if n := r.Capability("KVM_CAP_MAX_VCPUS"); n > 0 {
			c.Reason += fmt.Sprintf(" (up to %d vCPUs per VM)", n)
		}
	case r.VMCreated && errors.Is(e.kvmErr, kvm.ErrCreateVCPU):
		c.Result = e.needKVM()
		c.Reason = fmt.Sprintf("KVM created a VM but no vCPU: %v", e.kvmErr)
		if noH {
			c.Reason += "; this happens on riscv64 kernels that expose /dev/kvm on CPUs without the H extension"
		}
		c.Fix = "use a riscv64 CPU with the H extension and a kernel with KVM for it, or set accelerator = \"tcg\" in [hypervisor.qemu]"
	default:
		c.Result = e.needKVM()
		c.Reason = fmt.Sprintf("KVM is not usable: %v", e.kvmErr)
		c.Fix = "check dmesg for kvm messages; the kernel's KVM must report API version 12 and create VMs"
	}
	if c.Result == Warn && e.tcg() {
		c.Reason += "; the configuration uses TCG, which does not need KVM"
	}
	return c
}

// checkKVMAIA reports whether KVM can create its in-kernel AIA irqchip.
// Firecracker's riscv64 port requires it. QEMU 8.2 and later use it under
// KVM for aia=aplic-imsic, and otherwise fall back to the PLIC.
func (e *environment) checkKVMAIA() Check {
	c := Check{Name: "kvm aia irqchip"}
	fc := e.hypervisorType() == vc.FirecrackerHypervisor

	switch {
	case e.kvm == nil || !e.kvm.VMCreated:
		c.Result = Warn
		c.Reason = "not tested, because KVM could not create a VM"
		if fc {
			c.Result = Fail
			c.Reason += ", and Firecracker needs KVM's in-kernel AIA irqchip"
			c.Fix = "make KVM usable first (see the kvm check)"
		}
	case e.kvm.AIAIrqchip:
		c.Result = Pass
		c.Reason = "KVM can create the in-kernel AIA irqchip (KVM_DEV_TYPE_RISCV_AIA)"
	case fc:
		c.Result = Fail
		c.Reason = fmt.Sprintf("KVM cannot create the in-kernel AIA irqchip, which Firecracker needs on riscv64: %v", e.kvm.AIAError)
		c.Fix = "use a host whose CPU has Ssaia and a kernel with KVM AIA support (Linux 6.5 or later), or use QEMU"
	default:
		c.Result = Warn
		c.Reason = fmt.Sprintf("KVM cannot create the in-kernel AIA irqchip (%v), so QEMU guests under KVM need aia = \"none\" (the PLIC), which gives virtio-pci no MSIs", e.kvm.AIAError)
		c.Fix = "nothing is required for QEMU; for MSIs use a host whose CPU has Ssaia and Linux 6.5 or later"
	}
	return c
}
