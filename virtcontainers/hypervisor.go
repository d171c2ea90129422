// Package virtcontainers runs Kata sandboxes: it starts a guest VM through a
// Hypervisor, talks to the kata-agent inside it, and creates the sandbox's
// containers there. It knows nothing of containerd or of the command-line
// tools; those live under runtime/ and hand it typed configuration.
package virtcontainers

import (
	"context"
	"errors"
)

// HypervisorType names a VMM backend, as in the [hypervisor.<type>] section of
// configuration.toml.
type HypervisorType string

// The VMM backends this runtime supports on riscv64.
const (
	QemuHypervisor        HypervisorType = "qemu"
	FirecrackerHypervisor HypervisorType = "firecracker"
)

// Sentinel errors shared by the backends. Callers decide with errors.Is; the
// wrapped message carries the value that failed.
var (
	// ErrNotSupported reports a request the riscv64 machine or the VMM cannot
	// serve, such as memory hot-plug or a vIOMMU.
	ErrNotSupported = errors.New("not supported on riscv64")
	// ErrVMNotRunning reports an operation on a VM that is not running.
	ErrVMNotRunning = errors.New("VM is not running")
	// ErrVMExited reports that the VMM process ended on its own.
	ErrVMExited = errors.New("VMM exited")
)

// Hypervisor is the narrow surface the sandbox code needs from a VMM backend.
// The QEMU and Firecracker backends implement it; everything riscv64-specific
// stays behind it, in the backends' _riscv64.go files.
//
// A Hypervisor value describes one VM. Its methods are safe for concurrent use
// unless a method says otherwise.
type Hypervisor interface {
	// Type returns the backend's name.
	Type() HypervisorType

	// StartVM launches the VMM and boots the guest. It returns once the guest
	// runs, without waiting for the agent. On error nothing the call started is
	// left behind: no process, socket or directory.
	StartVM(ctx context.Context) error

	// StopVM stops the guest and the VMM, gracefully first, then by force once
	// ctx or the backend's stop timeout expires, and removes the VM's host
	// files. Stopping a VM that is not running is not an error.
	StopVM(ctx context.Context) error

	// PauseVM and ResumeVM freeze and thaw the guest's vCPUs.
	PauseVM(ctx context.Context) error
	ResumeVM(ctx context.Context) error

	// AgentURL returns where the agent listens, in the agent client's URL
	// forms: vsock://CID:PORT, hvsock://UDS:PORT or unix://PATH (a
	// virtio-serial port exposed as a socket on the host).
	AgentURL() (string, error)

	// SharedFS returns how the host directory of the sandbox's shared
	// filesystem reaches the guest, or ok=false when the backend shares none
	// (Firecracker), so containers need block devices instead.
	SharedFS() (fs SharedFSInfo, ok bool)

	// HotplugBlock attaches a block device to the running guest and returns
	// where the guest sees it (for example /dev/vdb, or a PCI path the agent
	// resolves).
	HotplugBlock(ctx context.Context, dev BlockDevice) (guestPath string, err error)

	// UnplugBlock detaches a device attached by HotplugBlock.
	UnplugBlock(ctx context.Context, id string) error

	// PIDs returns the host processes that make up the VM, the VMM first.
	PIDs() []int

	// Exited is closed when the VMM process ends, for any reason.
	Exited() <-chan struct{}
}

// SharedFSInfo describes the sandbox's shared filesystem as the guest mounts it.
type SharedFSInfo struct {
	// Type is virtio-fs or virtio-9p.
	Type SharedFSType
	// Tag is the mount tag the guest passes to mount(2) as the source.
	Tag string
	// HostPath is the host directory shared with the guest.
	HostPath string
	// Msize9p is the 9p packet payload in bytes for a virtio-9p share; 0
	// leaves the guest kernel's default.
	Msize9p uint32
}

// BlockDevice is a host file or block device to attach to the guest.
type BlockDevice struct {
	// ID names the device for the VMM and for a later UnplugBlock.
	ID string
	// Path is the host file or block device.
	Path string
	// ReadOnly attaches the device read-only.
	ReadOnly bool
}
