package firecracker

import "context"

// InstanceState is the VM state that GET / reports.
type InstanceState string

// The states of the swagger InstanceInfo.state enum.
const (
	StateNotStarted InstanceState = "Not started"
	StateRunning    InstanceState = "Running"
	StatePaused     InstanceState = "Paused"
)

// InstanceInfo is the swagger InstanceInfo object, the body of GET /.
type InstanceInfo struct {
	AppName    string        `json:"app_name"`
	ID         string        `json:"id"`
	State      InstanceState `json:"state"`
	VMMVersion string        `json:"vmm_version"`
}

// DescribeInstance returns the instance's id, state and version (GET /).
func (c *Client) DescribeInstance(ctx context.Context) (InstanceInfo, error) {
	var info InstanceInfo
	err := c.do(ctx, "GET", "/", nil, &info)
	return info, err
}
