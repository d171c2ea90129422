package firecracker

import "context"

// BootSource is the swagger BootSource object.
type BootSource struct {
	KernelImagePath string `json:"kernel_image_path"`
	BootArgs        string `json:"boot_args,omitempty"`
	// InitrdPath is rejected by the riscv64 build, which loads no initrd.
	InitrdPath string `json:"initrd_path,omitempty"`
}

// PutBootSource sets the guest kernel and its command line. Pre-boot only.
func (c *Client) PutBootSource(ctx context.Context, bs BootSource) error {
	return c.do(ctx, "PUT", "/boot-source", bs, nil)
}
