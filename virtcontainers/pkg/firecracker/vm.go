package firecracker

import "context"

// VMState is the swagger Vm.state enum, the states PATCH /vm can request.
type VMState string

// Requested VM states.
const (
	VMPaused  VMState = "Paused"
	VMResumed VMState = "Resumed"
)

type vmStateRequest struct {
	State VMState `json:"state"`
}

// PatchVM pauses or resumes the guest's vCPUs. Post-boot only.
func (c *Client) PatchVM(ctx context.Context, state VMState) error {
	return c.do(ctx, "PATCH", "/vm", vmStateRequest{State: state}, nil)
}
