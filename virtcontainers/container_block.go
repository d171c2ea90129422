package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/containerd/containerd/mount"
	"github.com/sirupsen/logrus"
)

// Storage drivers of the agent protocol for a block device, in upstream
// Kata's spelling, which the agent's storage package accepts.
const (
	// storageDriverMmioBlk is a virtio-mmio disk, named by its guest device
	// path (/dev/vdb).
	storageDriverMmioBlk = "mmioblk"
	// storageDriverBlk is a virtio-blk PCI disk, named by its PCI path.
	storageDriverBlk = "blk"
)

// blockRootfsTypes are the filesystems a block-device rootfs may have: those
// containerd's devmapper snapshotter creates (its fs_type option).
var blockRootfsTypes = []string{"ext4", "xfs"}

// blockRootfsMount returns containerd's rootfs mount when it is a block
// device for the guest to mount, as the devmapper snapshotter gives: exactly
// one mount, of type ext4 or xfs, whose source is a block device.
func blockRootfsMount(mounts []mount.Mount) (mount.Mount, bool) {
	if len(mounts) != 1 || !slices.Contains(blockRootfsTypes, mounts[0].Type) {
		return mount.Mount{}, false
	}
	st, err := os.Stat(mounts[0].Source)
	if err != nil || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return mount.Mount{}, false
	}
	return mounts[0], true
}

// guestRootfsPath returns where the agent mounts a container's block-device
// rootfs: the path the rootfs has in the guest when it comes through the
// shared filesystem, so the guest's layout is the same on every backend.
func guestRootfsPath(containerID string) string {
	return filepath.Join(guestSharedDir, containerID, "rootfs")
}

// attachRootfs gives the guest of a sandbox without a shared filesystem the
// container's root filesystem as a block device, and returns the storage
// the agent mounts at guestRootfsPath. A devmapper device is
// attached as it is. A directory (an overlay snapshot, which is mounted on
// the host first, or ctr run --rootfs) is copied into an ext4 image when
// convert_rootfs_directory allows it, and is an error otherwise.
func (c *Container) attachRootfs(ctx context.Context, cc ContainerConfig) (AgentStorage, error) {
	s := c.sandbox
	hc := s.cfg.Hypervisor
	if hc.DisableBlockDeviceUse {
		return AgentStorage{}, fmt.Errorf("container %s: sandbox %s: %w (%s), and disable_block_device_use = true forbids block devices, so the root filesystem cannot reach the guest: set disable_block_device_use = false in [hypervisor.%s]",
			c.id, s.cfg.ID, ErrNoSharedFilesystem, s.cfg.HypervisorType, s.cfg.HypervisorType)
	}
	readOnly := cc.Spec.Root != nil && cc.Spec.Root.Readonly
	dev := BlockDevice{ID: s.newBlockDeviceID(), ReadOnly: readOnly}
	var fsType string
	var options []string

	if m, ok := blockRootfsMount(cc.Rootfs); ok {
		dev.Path, fsType, options = m.Source, m.Type, m.Options
	} else {
		if !hc.ConvertRootfsDirectory {
			return AgentStorage{}, fmt.Errorf("container %s: root filesystem %s is a directory, which cannot reach the guest of sandbox %s: %w (%s); use containerd's devmapper snapshotter, whose root filesystems are block devices, or set convert_rootfs_directory = true in [hypervisor.%s] to copy the directory into an ext4 image for each container",
				c.id, rootfsDescription(cc), s.cfg.ID, ErrNoSharedFilesystem, s.cfg.HypervisorType, s.cfg.HypervisorType)
		}
		dir, err := c.mountRootfs(cc)
		if err != nil {
			return AgentStorage{}, err
		}
		image := s.cfg.Paths.RootfsImage(s.cfg.ID, c.id)
		// The image exists from here on, even when the build fails halfway,
		// so removeHostState is responsible for it.
		c.rootfsImage = image
		if err := buildExt4Image(ctx, dir, image, c.log); err != nil {
			return AgentStorage{}, fmt.Errorf("container %s: converting the rootfs directory to an image: %w", c.id, err)
		}
		dev.Path, fsType = image, "ext4"
	}

	c.log.WithFields(logrus.Fields{"device": dev.ID, "path": dev.Path, "fstype": fsType}).Info("attaching the rootfs block device")
	guestPath, err := s.hypervisor.HotplugBlock(ctx, dev)
	if err != nil {
		return AgentStorage{}, fmt.Errorf("container %s: attaching rootfs %s: %w", c.id, dev.Path, err)
	}
	c.blockDevice = dev.ID

	return AgentStorage{
		Driver:     blockStorageDriver(s.hypervisor.Type()),
		Source:     guestPath,
		FSType:     fsType,
		Options:    rootfsMountOptions(fsType, options, readOnly),
		MountPoint: guestRootfsPath(c.id),
	}, nil
}

// rootfsDescription names the root filesystem directory of cc for errors.
func rootfsDescription(cc ContainerConfig) string {
	if len(cc.Rootfs) > 0 {
		return fmt.Sprintf("%s (a %s mount of %s)", filepath.Join(cc.BundlePath, "rootfs"), cc.Rootfs[0].Type, cc.Rootfs[0].Source)
	}
	if cc.Spec.Root == nil || cc.Spec.Root.Path == "" {
		return "(none given)"
	}
	if filepath.IsAbs(cc.Spec.Root.Path) {
		return cc.Spec.Root.Path
	}
	return filepath.Join(cc.BundlePath, cc.Spec.Root.Path)
}

// blockStorageDriver returns the agent's storage driver for a disk that
// backend t hot-plugged: Firecracker fills virtio-mmio placeholder drives and
// returns the guest device path, QEMU plugs virtio-blk PCI disks and returns
// their PCI path.
//
// NOTE: tests cover the Firecracker case only. QEMU with shared_fs = "none"
// takes the blk case, which no test runs against a guest.
func blockStorageDriver(t HypervisorType) string {
	if t == FirecrackerHypervisor {
		return storageDriverMmioBlk
	}
	return storageDriverBlk
}

// rootfsMountOptions returns the guest mount options of a block-device
// rootfs: containerd's mount options, plus "nouuid" for xfs, because
// devmapper snapshots of one image share the filesystem UUID, and "ro" for a
// read-only root. The mount option is what keeps a read-only root read-only
// on Firecracker, whose placeholder drives are attached read-write.
func rootfsMountOptions(fsType string, options []string, readOnly bool) []string {
	var out []string
	for _, o := range options {
		if readOnly && o == "rw" {
			continue
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if fsType == "xfs" && !slices.Contains(out, "nouuid") {
		out = append(out, "nouuid")
	}
	if readOnly && !slices.Contains(out, "ro") {
		out = append(out, "ro")
	}
	return out
}

// detachRootfs detaches the rootfs block device from the guest. A VM whose
// process has ended holds no drives, so there is nothing to detach then.
func (c *Container) detachRootfs(ctx context.Context) error {
	if c.blockDevice == "" {
		return nil
	}
	h := c.sandbox.hypervisor
	log := c.log.WithField("device", c.blockDevice)
	err := h.UnplugBlock(ctx, c.blockDevice)
	switch {
	case errors.Is(err, ErrVMNotRunning) && vmExited(h):
		log.Debug("the VM has exited, so the rootfs block device needs no detaching")
	case err != nil:
		return fmt.Errorf("detaching rootfs block device %s of container %s: %w", c.blockDevice, c.id, err)
	default:
		log.Info("rootfs block device detached")
	}
	c.blockDevice = ""
	return nil
}

// vmExited reports whether the VMM process of h has ended.
func vmExited(h Hypervisor) bool {
	select {
	case <-h.Exited():
		return true
	default:
		return false
	}
}
