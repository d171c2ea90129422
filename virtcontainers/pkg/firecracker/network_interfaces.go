package firecracker

import (
	"context"
	"net/url"
)

// NetworkInterface is the swagger NetworkInterface object: a virtio-net
// device backed by a host tap device.
type NetworkInterface struct {
	IfaceID     string `json:"iface_id"`
	HostDevName string `json:"host_dev_name"`
	GuestMAC    string `json:"guest_mac,omitempty"`
	// MTU, when set, must be within 68..65535.
	MTU uint32 `json:"mtu,omitempty"`
}

// PutNetworkInterface creates a network interface. Pre-boot only.
func (c *Client) PutNetworkInterface(ctx context.Context, n NetworkInterface) error {
	return c.do(ctx, "PUT", "/network-interfaces/"+url.PathEscape(n.IfaceID), n, nil)
}
