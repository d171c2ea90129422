package virtcontainers

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// kvmGetAPIVersion is KVM_GET_API_VERSION, _IO(KVMIO, 0x00), the same on
// every architecture.
const (
	kvmGetAPIVersion = 0xAE00
	kvmAPIVersion    = 12
)

// KVMDevice is the HostKVM of a KVM device node, /dev/kvm in production.
type KVMDevice struct {
	Path string
}

// Usable opens the device and checks its API version.
func (d KVMDevice) Usable() error {
	f, err := os.OpenFile(d.Path, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", d.Path, err)
	}
	defer f.Close()

	version, err := unix.IoctlRetInt(int(f.Fd()), kvmGetAPIVersion)
	if err != nil {
		return fmt.Errorf("KVM_GET_API_VERSION on %s: %w", d.Path, err)
	}
	if version != kvmAPIVersion {
		return fmt.Errorf("%s reports KVM API version %d, want %d", d.Path, version, kvmAPIVersion)
	}
	return nil
}

// HasAIA returns ErrAIAUnknown, so aia = "auto" picks the PLIC under KVM.
//
// TODO: probe the in-kernel AIA irqchip (KVM_CREATE_DEVICE with
// KVM_CREATE_DEVICE_TEST on a VM) through the host check package.
func (d KVMDevice) HasAIA() (bool, error) {
	return false, ErrAIAUnknown
}
