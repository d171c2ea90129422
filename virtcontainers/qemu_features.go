package virtcontainers

import (
	"errors"
	"fmt"
	"slices"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

// ErrQEMUTooOld reports a configured option that the QEMU binary lacks.
var ErrQEMUTooOld = errors.New("QEMU does not support the requested option")

// ErrKVMUnusable reports accelerator = "kvm" on a host or QEMU build that
// cannot run riscv64 KVM guests.
var ErrKVMUnusable = errors.New("KVM is not usable for riscv64 guests")

// QEMUVersion is a QEMU release number.
type QEMUVersion = qemucaps.Version

// QEMUFeatures is what the backend needs to know about a QEMU binary before
// it builds the command line.
type QEMUFeatures struct {
	Version QEMUVersion
	// AIAModes are the aia= values the virt machine accepts. It is empty
	// for a QEMU without the aia property.
	AIAModes []AIAMode
	// Accelerators are the accelerators the binary was built with.
	Accelerators []Accelerator
	// Seccomp reports that the binary accepts -sandbox on.
	Seccomp bool
}

// QEMUProber reads the features of the QEMU binary at a path.
type QEMUProber interface {
	ProbeQEMU(path string) (QEMUFeatures, error)
}

// ErrAIAUnknown is what HostKVM.HasAIA returns when it cannot tell whether
// the host's KVM has the AIA irqchip.
var ErrAIAUnknown = errors.New("KVM AIA support unknown")

// HostKVM is what the backend needs to know about the host's KVM.
type HostKVM interface {
	// Usable returns nil when the KVM device can create VMs.
	Usable() error
	// HasAIA reports whether KVM provides the in-kernel AIA irqchip, which
	// aia = "aplic-imsic" needs under KVM. It returns ErrAIAUnknown when it
	// cannot tell.
	HasAIA() (bool, error)
}

// tcgIMSICMinVersion is the oldest QEMU with which TCG guests have been seen
// to boot with aia=aplic-imsic. QEMU 7.2 with a 6.12 guest kernel hangs at
// boot under TCG with it, while QEMU 10.0.2 boots the same kernel.
//
// NOTE: releases between 7.2 and 10.0 are untested, so auto does not pick
// aplic-imsic for them under TCG.
var tcgIMSICMinVersion = QEMUVersion{Major: 10}

// atLeast reports whether v is min or newer.
func atLeast(v, min QEMUVersion) bool { return !v.Less(min) }

// checkAccelerator returns an error when the accelerator cannot run riscv64
// guests with this QEMU binary and host.
func checkAccelerator(accel Accelerator, qemuPath string, f QEMUFeatures, kvm HostKVM) error {
	if !slices.Contains(f.Accelerators, accel) {
		hint := ""
		if accel == AccelKVM {
			hint = "; run `kata-runtime check` to see why, or set accelerator = \"tcg\" in [hypervisor.qemu] to emulate the guest"
		}
		return fmt.Errorf("QEMU %s at %s was built without accelerator %q (it has %v): %w%s",
			f.Version, qemuPath, accel, f.Accelerators, errForAccel(accel), hint)
	}
	if accel != AccelKVM {
		return nil
	}
	if !atLeast(f.Version, qemucaps.MinVersion) {
		return fmt.Errorf("QEMU %s at %s is older than %s, the first release with KVM for riscv64: %w; install a newer QEMU or set accelerator = \"tcg\"",
			f.Version, qemuPath, qemucaps.MinVersion, ErrQEMUTooOld)
	}
	if err := kvm.Usable(); err != nil {
		return fmt.Errorf("%w: %w; run `kata-runtime check` to see why, or set accelerator = \"tcg\" in [hypervisor.qemu] to emulate the guest",
			ErrKVMUnusable, err)
	}
	return nil
}

func errForAccel(accel Accelerator) error {
	if accel == AccelKVM {
		return ErrKVMUnusable
	}
	return ErrQEMUTooOld
}

// resolveAIA turns the configured AIA mode into the one to launch with.
//
// An explicit mode must be one this QEMU accepts, and aplic-imsic under KVM
// also needs the host's AIA irqchip when the host can tell. auto picks
// aplic-imsic only where it is known to work: under KVM when the host has
// the AIA irqchip and QEMU (qemucaps.KVMAIAVersion or newer) uses it, under
// TCG from QEMU tcgIMSICMinVersion on. Otherwise it
// picks the PLIC, because every guest kernel drives the PLIC.
func resolveAIA(requested AIAMode, accel Accelerator, qemuPath string, f QEMUFeatures, kvm HostKVM) (AIAMode, error) {
	qemuHas := func(mode AIAMode) bool { return slices.Contains(f.AIAModes, mode) }

	switch requested {
	case AIANone:
		return AIANone, nil

	case AIAAPLIC, AIAAPLICIMSIC:
		if !qemuHas(requested) {
			return "", fmt.Errorf("aia = %q: QEMU %s at %s accepts aia modes %v: %w; upgrade QEMU or set aia = \"none\"",
				requested, f.Version, qemuPath, f.AIAModes, ErrQEMUTooOld)
		}
		if requested == AIAAPLICIMSIC && accel == AccelKVM {
			if !atLeast(f.Version, qemucaps.KVMAIAVersion) {
				return "", fmt.Errorf("aia = %q with KVM: QEMU %s at %s emulates the IMSIC, which KVM guests cannot use: %w; QEMU %s and later use the host's AIA irqchip, or set aia = \"none\"",
					requested, f.Version, qemuPath, ErrQEMUTooOld, qemucaps.KVMAIAVersion)
			}
			has, err := kvm.HasAIA()
			if err == nil && !has {
				return "", fmt.Errorf("aia = %q with KVM: %w: the host's KVM has no AIA irqchip; set aia = \"auto\" or \"none\"",
					requested, ErrNotSupported)
			}
		}
		return requested, nil

	case AIAAuto:
		if !qemuHas(AIAAPLICIMSIC) {
			return AIANone, nil
		}
		if accel == AccelKVM {
			if !atLeast(f.Version, qemucaps.KVMAIAVersion) {
				return AIANone, nil
			}
			has, err := kvm.HasAIA()
			if err == nil && has {
				return AIAAPLICIMSIC, nil
			}
			return AIANone, nil
		}
		if atLeast(f.Version, tcgIMSICMinVersion) {
			return AIAAPLICIMSIC, nil
		}
		return AIANone, nil
	}

	return "", fmt.Errorf("aia = %q: %w: use \"auto\", \"none\", \"aplic\" or \"aplic-imsic\"", requested, ErrInvalidConfig)
}
