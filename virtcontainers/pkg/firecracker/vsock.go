package firecracker

import "context"

// Vsock is the swagger Vsock object. Firecracker listens on UDSPath for
// host-initiated connections, each opened by a "CONNECT <port>\n" line, and
// forwards guest-initiated connections to port P to UDSPath + "_P".
type Vsock struct {
	// GuestCID must be 3 or more.
	GuestCID uint32 `json:"guest_cid"`
	UDSPath  string `json:"uds_path"`
}

// PutVsock creates the vsock device. Pre-boot only.
func (c *Client) PutVsock(ctx context.Context, v Vsock) error {
	return c.do(ctx, "PUT", "/vsock", v, nil)
}
