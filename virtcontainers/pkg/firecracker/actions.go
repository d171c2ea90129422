package firecracker

import "context"

// ActionType is the swagger InstanceActionInfo.action_type enum.
type ActionType string

// Firecracker's synchronous actions.
const (
	// ActionInstanceStart boots the configured VM; accepted once.
	ActionInstanceStart ActionType = "InstanceStart"
	// ActionSendCtrlAltDel sends Ctrl+Alt+Del to an x86_64 guest, whose
	// reboot Firecracker treats as a shutdown. The riscv64 port rejects it
	// with 400.
	ActionSendCtrlAltDel ActionType = "SendCtrlAltDel"
	// ActionFlushMetrics writes the metrics now.
	ActionFlushMetrics ActionType = "FlushMetrics"
)

type instanceActionInfo struct {
	ActionType ActionType `json:"action_type"`
}

// PutAction runs a synchronous action (PUT /actions).
func (c *Client) PutAction(ctx context.Context, action ActionType) error {
	return c.do(ctx, "PUT", "/actions", instanceActionInfo{ActionType: action}, nil)
}
