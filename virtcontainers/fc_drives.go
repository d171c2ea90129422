package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
)

// fcDrive is a placeholder drive: attached before boot to an empty file, and
// pointed at a container's block device by PATCH /drives/{id}, because
// Firecracker cannot add drives to a running VM.
type fcDrive struct {
	id string
	// placeholder is the empty file's path in API requests.
	placeholder string
	// deviceID is the BlockDevice.ID using the drive, "" when it is free.
	deviceID string
	// undo removes the device's link or bind mount in the jail.
	undo func() error
}

// HotplugBlock points a free placeholder drive at dev.Path and returns the
// guest device, /dev/vdb for the first placeholder drive (the guest image is
// /dev/vda). dev.Path must be a block device or an image file: a directory,
// as an overlay snapshotter gives, cannot reach a Firecracker guest.
//
// NOTE: placeholder drives are attached read-write and PATCH cannot change
// that, so dev.ReadOnly must be enforced by the guest's mount options.
func (fc *Firecracker) HotplugBlock(ctx context.Context, dev BlockDevice) (string, error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.state != fcStateRunning {
		return "", fmt.Errorf("attaching block device %s: the VM is %s: %w", dev.ID, fc.state, ErrVMNotRunning)
	}
	if dev.ID == "" {
		return "", fmt.Errorf("attaching block device %s: missing device id", dev.Path)
	}

	st, err := os.Stat(dev.Path)
	if err != nil {
		return "", fmt.Errorf("attaching block device %s: %w", dev.ID, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("attaching block device %s: %s is a directory, but Firecracker shares no filesystem with the guest: use a snapshotter that gives block devices (devmapper) for Firecracker sandboxes", dev.ID, dev.Path)
	}
	if !st.Mode().IsRegular() && st.Mode()&os.ModeDevice == 0 {
		return "", fmt.Errorf("attaching block device %s: %s is neither a block device nor a regular file (mode %s)", dev.ID, dev.Path, st.Mode())
	}

	free := -1
	for i, d := range fc.drives {
		if d.deviceID == dev.ID {
			return "", fmt.Errorf("attaching block device %s: already attached as %s", dev.ID, d.id)
		}
		if d.deviceID == "" && free < 0 {
			free = i
		}
	}
	if free < 0 {
		return "", fmt.Errorf("attaching block device %s: all %d placeholder drives are in use, and Firecracker cannot add drives to a running VM: detach a device first, or start sandboxes with fewer containers", dev.ID, len(fc.drives))
	}

	d := &fc.drives[free]
	name := d.id + ".device"
	apiPath, undo, err := fc.exposeFile(dev.Path, name)
	if err != nil {
		return "", fmt.Errorf("attaching block device %s: %w", dev.ID, err)
	}
	if err := fc.chownForJail(name); err != nil {
		return "", errors.Join(fmt.Errorf("attaching block device %s: %w", dev.ID, err), undo())
	}
	if err := fc.client.PatchDrive(ctx, firecracker.PartialDrive{DriveID: d.id, PathOnHost: apiPath}); err != nil {
		if uerr := undo(); uerr != nil {
			fc.log.WithError(uerr).WithField("drive", d.id).Warn("removing the device from the jail failed")
		}
		return "", fmt.Errorf("attaching block device %s to drive %s: %w", dev.ID, d.id, err)
	}
	d.deviceID = dev.ID
	d.undo = undo

	guestPath := virtioBlockName(free + 1)
	fc.log.WithFields(logrus.Fields{"device": dev.ID, "path": dev.Path, "drive": d.id, "guest_path": guestPath}).Info("block device attached")
	return guestPath, nil
}

// UnplugBlock points the drive used by device id back at its placeholder.
func (fc *Firecracker) UnplugBlock(ctx context.Context, id string) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.state != fcStateRunning {
		return fmt.Errorf("detaching block device %s: the VM is %s: %w", id, fc.state, ErrVMNotRunning)
	}
	for i := range fc.drives {
		d := &fc.drives[i]
		if d.deviceID != id {
			continue
		}
		if err := fc.client.PatchDrive(ctx, firecracker.PartialDrive{DriveID: d.id, PathOnHost: d.placeholder}); err != nil {
			return fmt.Errorf("detaching block device %s from drive %s: %w", id, d.id, err)
		}
		err := d.undo()
		d.deviceID, d.undo = "", nil
		if err != nil {
			return fmt.Errorf("detaching block device %s: %w", id, err)
		}
		fc.log.WithFields(logrus.Fields{"device": id, "drive": d.id}).Info("block device detached")
		return nil
	}
	return fmt.Errorf("detaching block device %s: not found among the attached devices", id)
}

// virtioBlockName returns the guest name of the index-th virtio block
// device, counting from 0: vda..vdz, then vdaa.., as the Linux virtio_blk
// driver names them in probe order. Firecracker places drives on virtio-mmio
// in the order they were attached.
func virtioBlockName(index int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	name := ""
	for n := index; ; n = n/26 - 1 {
		name = string(letters[n%26]) + name
		if n < 26 {
			break
		}
	}
	return "/dev/vd" + name
}
