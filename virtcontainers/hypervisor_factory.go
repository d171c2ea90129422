package virtcontainers

import (
	"fmt"
	"path/filepath"
)

// HypervisorParams is everything a backend needs to describe one VM.
type HypervisorParams struct {
	// ID is the sandbox id; the VM's host files live under Paths.VMDir(ID).
	ID     string
	Config HypervisorConfig
	Agent  AgentConfig
	Paths  Paths
	// SharedDir is the host directory to share with the guest under the tag
	// kataShared, when the backend shares filesystems.
	SharedDir string
}

// NewHypervisor returns the backend of type t for the VM described by p. It
// starts nothing.
func NewHypervisor(t HypervisorType, p HypervisorParams) (Hypervisor, error) {
	switch t {
	case QemuHypervisor:
		return NewQemu(p.ID, p.Config, p.Agent, WithRunRoot(p.Paths.VMRoot), WithSharedDir(p.SharedDir))
	case FirecrackerHypervisor:
		// Firecracker keeps upstream's layout: <run root>/firecracker/<id>/root.
		return NewFirecracker(p.ID, p.Config, p.Agent, FirecrackerOptions{RunRoot: filepath.Dir(p.Paths.VMRoot)})
	default:
		return nil, fmt.Errorf("unknown hypervisor %q: this build supports %q and %q", t, QemuHypervisor, FirecrackerHypervisor)
	}
}
