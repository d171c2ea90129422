package firecracker

import "context"

// Metrics is the swagger Metrics object. Firecracker writes one JSON object
// per flush to MetricsPath, which must exist when the request is sent.
type Metrics struct {
	MetricsPath string `json:"metrics_path"`
}

// PutMetrics starts the metrics system. Firecracker accepts it once per
// process and rejects a second request with 400.
func (c *Client) PutMetrics(ctx context.Context, m Metrics) error {
	return c.do(ctx, "PUT", "/metrics", m, nil)
}
