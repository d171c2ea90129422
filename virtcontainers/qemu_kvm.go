package virtcontainers

import (
	"sync"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/kvm"
)

// KVMDevice is the HostKVM of a KVM device node, /dev/kvm in production. It
// runs the host checker's probe (a VM, a vCPU and a test of the AIA irqchip
// device) once and keeps the result.
type KVMDevice struct {
	path string

	once   sync.Once
	result *kvm.Result
	err    error
}

// NewKVMDevice returns the HostKVM of the KVM device at path.
func NewKVMDevice(path string) *KVMDevice {
	return &KVMDevice{path: path}
}

func (d *KVMDevice) probe() (*kvm.Result, error) {
	d.once.Do(func() { d.result, d.err = kvm.Probe(d.path) })
	return d.result, d.err
}

// Usable implements HostKVM: the device can create a VM and a vCPU.
func (d *KVMDevice) Usable() error {
	_, err := d.probe()
	return err
}

// HasAIA implements HostKVM. It returns ErrAIAUnknown when the probe failed
// before it reached the AIA test.
func (d *KVMDevice) HasAIA() (bool, error) {
	r, _ := d.probe()
	if r == nil || !r.VMCreated {
		return false, ErrAIAUnknown
	}
	return r.AIAIrqchip, nil
}
