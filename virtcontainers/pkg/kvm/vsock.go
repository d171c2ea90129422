package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// vhostGetFeatures is VHOST_GET_FEATURES, _IOR(VHOST_VIRTIO, 0x00, __u64),
// from include/uapi/linux/vhost.h.
const vhostGetFeatures = 0x8008AF00

// VsockResult is the outcome of ProbeVhostVsock.
type VsockResult struct {
	Device string
	// Features is the virtio feature bitmap the vhost-vsock driver offers,
	// valid when FeaturesError is nil.
	Features      uint64
	FeaturesError error
}

// ProbeVhostVsock opens device (normally /dev/vhost-vsock) read-write, as
// QEMU's vhost-vsock-pci does, and reads its features. An open failure is the
// returned error. A VHOST_GET_FEATURES failure is only recorded, because the
// open alone shows that the vhost_vsock driver is present and that the
// caller may use it.
func ProbeVhostVsock(device string) (*VsockResult, error) {
	fd, err := unix.Open(device, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", device, err)
	}
	defer func() { _ = unix.Close(fd) }() // nothing is written through fd

	r := &VsockResult{Device: device}
	r.Features, err = unix.IoctlGetUint64(fd, vhostGetFeatures)
	if err != nil {
		r.FeaturesError = fmt.Errorf("VHOST_GET_FEATURES on %s: %w", device, err)
	}
	return r, nil
}
