package firecracker

import (
	"context"
	"net/url"
)

// Drive is the swagger Drive object for a virtio-block drive. IsReadOnly and
// PathOnHost are always sent because Firecracker 1.4 requires them and later
// versions require them for virtio-block drives.
type Drive struct {
	DriveID      string `json:"drive_id"`
	IsRootDevice bool   `json:"is_root_device"`
	IsReadOnly   bool   `json:"is_read_only"`
	PathOnHost   string `json:"path_on_host"`
	PartUUID     string `json:"partuuid,omitempty"`
	// CacheType is "Unsafe" (the default) or "Writeback".
	CacheType string `json:"cache_type,omitempty"`
	// IOEngine is "Sync" (the default) or "Async".
	IOEngine string `json:"io_engine,omitempty"`
}

// PartialDrive is the swagger PartialDrive object, the body of PATCH
// /drives/{drive_id}.
type PartialDrive struct {
	DriveID    string `json:"drive_id"`
	PathOnHost string `json:"path_on_host,omitempty"`
}

// PutDrive creates or replaces a drive. Pre-boot only.
func (c *Client) PutDrive(ctx context.Context, d Drive) error {
	return c.do(ctx, "PUT", "/drives/"+url.PathEscape(d.DriveID), d, nil)
}

// PatchDrive points an existing drive at another host file. Post-boot only:
// this is how a placeholder drive receives a container's block device.
func (c *Client) PatchDrive(ctx context.Context, d PartialDrive) error {
	return c.do(ctx, "PATCH", "/drives/"+url.PathEscape(d.DriveID), d, nil)
}
