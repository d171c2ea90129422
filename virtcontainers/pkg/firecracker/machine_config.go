package firecracker

import "context"

// MachineConfig is the swagger MachineConfiguration object. VCPUCount must
// be within 1..32 and MemSizeMiB positive; Firecracker rejects the whole
// request otherwise.
type MachineConfig struct {
	VCPUCount  uint32 `json:"vcpu_count"`
	MemSizeMiB uint32 `json:"mem_size_mib"`
	// SMT can be enabled on x86_64 only.
	SMT             bool `json:"smt,omitempty"`
	TrackDirtyPages bool `json:"track_dirty_pages,omitempty"`
}

// PutMachineConfig sets the vCPU count and memory size. Pre-boot only.
func (c *Client) PutMachineConfig(ctx context.Context, mc MachineConfig) error {
	return c.do(ctx, "PUT", "/machine-config", mc, nil)
}
