package virtcontainers

import (
	"fmt"
	"sort"
)

// HypervisorParams is everything a backend needs to describe one VM.
type HypervisorParams struct {
	// ID is the sandbox id; the VM's host files live under Paths.VMDir(ID).
	ID     string
	Config HypervisorConfig
	Paths  Paths
	// SharedDir is the host directory to share with the guest under the tag
	// kataShared, when the backend shares filesystems.
	SharedDir string
}

// hypervisorConstructor builds a backend. It must not start anything.
type hypervisorConstructor func(HypervisorParams) (Hypervisor, error)

// hypervisorConstructors maps each backend to its constructor. Backends add
// themselves from their own files' init functions.
var hypervisorConstructors = map[HypervisorType]hypervisorConstructor{}

func registerHypervisor(t HypervisorType, c hypervisorConstructor) {
	if _, dup := hypervisorConstructors[t]; dup {
		panic("virtcontainers: hypervisor registered twice: " + string(t))
	}
	hypervisorConstructors[t] = c
}

// NewHypervisor returns the backend of type t for the VM described by p.
func NewHypervisor(t HypervisorType, p HypervisorParams) (Hypervisor, error) {
	c, ok := hypervisorConstructors[t]
	if !ok {
		known := make([]string, 0, len(hypervisorConstructors))
		for k := range hypervisorConstructors {
			known = append(known, string(k))
		}
		sort.Strings(known)
		return nil, fmt.Errorf("unknown hypervisor %q: this build supports %v", t, known)
	}
	return c(p)
}
