// Package kvm probes /dev/kvm and /dev/vhost-vsock with the same ioctls a VMM
// issues at start-up, so that the host checker can tell "KVM is there" from
// "KVM can run a guest". Device paths are parameters, so tests and the
// checker's host root can point elsewhere.
package kvm

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ioctl numbers and constants from the Linux UAPI header
// include/uapi/linux/kvm.h. The encoding (asm-generic/ioctl.h) is the same
// on riscv64, arm64 and x86_64.
const (
	kvmGetAPIVersion  = 0xAE00 // _IO(KVMIO, 0x00)
	kvmCreateVM       = 0xAE01 // _IO(KVMIO, 0x01)
	kvmCheckExtension = 0xAE03 // _IO(KVMIO, 0x03)
	kvmCreateVCPU     = 0xAE41 // _IO(KVMIO, 0x41)
	kvmCreateDevice   = 0xC00CAEE0

	// kvmCreateDeviceTest makes KVM_CREATE_DEVICE only test whether the
	// device type could be created.
	kvmCreateDeviceTest = 1

	// kvmDevTypeRISCVAIA is KVM_DEV_TYPE_RISCV_AIA, the in-kernel AIA
	// irqchip (APLIC and IMSIC) of Linux 6.5 and later.
	kvmDevTypeRISCVAIA = 11

	kvmCapNrVCPUs     = 9
	kvmCapMaxVCPUs    = 66
	kvmCapDeviceCtrl  = 89
	kvmCapOneReg      = 70
	kvmCapIRQFD       = 32
	kvmCapIOEventFD   = 36
	kvmCapUserMemory  = 3
	kvmCapReadonlyMem = 81
)

// APIVersion is the only KVM API version Linux has reported since 2.6.22.
const APIVersion = 12

// Errors wrapped by Probe, one per step, so callers can tell which step failed.
var (
	ErrOpen       = errors.New("cannot open the KVM device")
	ErrAPIVersion = errors.New("unexpected KVM API version")
	ErrCreateVM   = errors.New("KVM_CREATE_VM failed")
	ErrCreateVCPU = errors.New("KVM_CREATE_VCPU failed")
)

// Capability is one KVM_CHECK_EXTENSION result.
type Capability struct {
	Name  string
	Value int
}

// Result is the outcome of Probe, filled up to the step that failed.
type Result struct {
	Device     string
	APIVersion int
	// VMCreated and VCPUCreated report whether KVM_CREATE_VM and
	// KVM_CREATE_VCPU succeeded. A riscv64 kernel that lacks H support can
	// expose /dev/kvm and still fail at the vCPU.
	VMCreated   bool
	VCPUCreated bool
	// Capabilities are KVM_CHECK_EXTENSION results on the VM.
	Capabilities []Capability
	// AIAIrqchip reports whether KVM can create its in-kernel AIA irqchip
	// device, which Firecracker requires on riscv64 and which QEMU 8.2 and
	// later use under KVM. AIAError is KVM's reason when it cannot.
	AIAIrqchip bool
	AIAError   error
}

// Capability returns the value of the named capability, or 0 when it was
// not queried or KVM does not have it.
func (r *Result) Capability(name string) int {
	for _, c := range r.Capabilities {
		if c.Name == name {
			return c.Value
		}
	}
	return 0
}

// Probe opens device (normally /dev/kvm) and runs, in order:
// KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION for the
// capabilities a VMM relies on, a KVM_CREATE_DEVICE test of the riscv64 AIA
// irqchip, and KVM_CREATE_VCPU. It stops at the first failing step and
// returns the Result so far with an error wrapping one of the Err values.
// Everything it creates is closed before it returns.
func Probe(device string) (*Result, error) {
	r := &Result{Device: device}

	kvmFD, err := unix.Open(device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return r, fmt.Errorf("%w %s: %w", ErrOpen, device, err)
	}
	// The probe changes nothing through these descriptors, so a close
	// error loses nothing.
	defer func() { _ = unix.Close(kvmFD) }()

	r.APIVersion, err = unix.IoctlRetInt(kvmFD, kvmGetAPIVersion)
	if err != nil {
		return r, fmt.Errorf("%w: KVM_GET_API_VERSION on %s: %w", ErrAPIVersion, device, err)
	}
	if r.APIVersion != APIVersion {
		return r, fmt.Errorf("%w %d from %s, want %d", ErrAPIVersion, r.APIVersion, device, APIVersion)
	}

	vmFD, err := unix.IoctlRetInt(kvmFD, kvmCreateVM)
	if err != nil {
		return r, fmt.Errorf("%w on %s: %w", ErrCreateVM, device, err)
	}
	defer func() { _ = unix.Close(vmFD) }()
	r.VMCreated = true

	for _, c := range []struct {
		name string
		id   uintptr
	}{
		{"KVM_CAP_USER_MEMORY", kvmCapUserMemory},
		{"KVM_CAP_NR_VCPUS", kvmCapNrVCPUs},
		{"KVM_CAP_MAX_VCPUS", kvmCapMaxVCPUs},
		{"KVM_CAP_ONE_REG", kvmCapOneReg},
		{"KVM_CAP_IRQFD", kvmCapIRQFD},
		{"KVM_CAP_IOEVENTFD", kvmCapIOEventFD},
		{"KVM_CAP_READONLY_MEM", kvmCapReadonlyMem},
		{"KVM_CAP_DEVICE_CTRL", kvmCapDeviceCtrl},
	} {
		v, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(vmFD), kvmCheckExtension, c.id)
		if errno != 0 {
			v = 0
		}
		r.Capabilities = append(r.Capabilities, Capability{c.name, int(v)})
	}

	r.AIAIrqchip, r.AIAError = testCreateDevice(vmFD, kvmDevTypeRISCVAIA)

	vcpuFD, err := unix.IoctlRetInt(vmFD, kvmCreateVCPU)
	if err != nil {
		return r, fmt.Errorf("%w for vCPU 0 on %s: %w", ErrCreateVCPU, device, err)
	}
	_ = unix.Close(vcpuFD)
	r.VCPUCreated = true
	return r, nil
}

// kvmCreateDeviceArgs is struct kvm_create_device.
type kvmCreateDeviceArgs struct {
	Type  uint32
	FD    uint32
	Flags uint32
}

// testCreateDevice tests whether KVM could give the VM a device of type devType.
// KVM returns ENODEV for a type it does not know or the host cannot back.
func testCreateDevice(vmFD int, devType uint32) (bool, error) {
	args := kvmCreateDeviceArgs{Type: devType, Flags: kvmCreateDeviceTest}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(vmFD), kvmCreateDevice, uintptr(unsafe.Pointer(&args)))
	if errno != 0 {
		return false, fmt.Errorf("KVM_CREATE_DEVICE test of device type %d: %w", devType, errno)
	}
	return true, nil
}
