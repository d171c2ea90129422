// Package storage mounts the storages of CreateSandbox and CreateContainer
// inside the guest: shared directories (virtio-fs, 9p), block devices and
// ephemeral tmpfs mounts.
package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// Storage drivers of the protocol that this agent mounts.
const (
	DriverVirtioFS  = "virtio-fs"
	Driver9p        = "9p"
	DriverBlk       = "blk"
	DriverVirtioBlk = "virtio-blk"
	DriverMmioBlk   = "mmioblk"
	DriverEphemeral = "ephemeral"
	DriverLocal     = "local"
)

// Drivers lists the storage drivers for GetGuestDetails.
var Drivers = []string{DriverVirtioFS, Driver9p, DriverBlk, DriverVirtioBlk, DriverMmioBlk, DriverEphemeral, DriverLocal}

// devicePollInterval is how often Mount looks for a hot-plugged block device
// to appear under /dev.
const devicePollInterval = 50 * time.Millisecond

// Mount mounts s at s.MountPoint, creating the mount point. A block device
// that is not there yet is waited for until ctx ends; sysRoot is the sysfs
// mount used to find a block device by PCI path.
func Mount(ctx context.Context, s *grpc.Storage, sysRoot string) error {
	if s == nil {
		return fmt.Errorf("storage is nil: %w", errdefs.ErrInvalidArgument)
	}
	if err := ValidatePath(s.MountPoint); err != nil {
		return fmt.Errorf("storage %s: mount point: %w", s.Source, err)
	}

	fstype := s.Fstype
	source := s.Source
	switch s.Driver {
	case DriverVirtioFS:
		fstype = "virtiofs"
	case Driver9p:
		fstype = "9p"
	case DriverEphemeral:
		if fstype == "" {
			fstype = "tmpfs"
		}
	case DriverBlk, DriverVirtioBlk, DriverMmioBlk:
		dev, err := ResolveBlockSource(ctx, sysRoot, source)
		if err != nil {
			return err
		}
		source = dev
	case DriverLocal:
		if err := os.MkdirAll(s.MountPoint, 0o777); err != nil {
			return fmt.Errorf("creating local storage %s: %w", s.MountPoint, err)
		}
		return os.Chmod(s.MountPoint, 0o777|os.ModeSticky)
	default:
		return fmt.Errorf("storage driver %q of %s: %w", s.Driver, s.MountPoint, errdefs.ErrUnimplemented)
	}
	if fstype == "" {
		return fmt.Errorf("storage %s at %s has no file system type: %w", source, s.MountPoint, errdefs.ErrInvalidArgument)
	}

	if err := os.MkdirAll(s.MountPoint, 0o755); err != nil {
		return fmt.Errorf("creating mount point %s: %w", s.MountPoint, err)
	}
	flags, data := ParseOptions(s.Options)
	if err := unix.Mount(source, s.MountPoint, fstype, flags, data); err != nil {
		return fmt.Errorf("mounting %s (%s) on %s with %q: %w", source, fstype, s.MountPoint, data, err)
	}
	return nil
}

// Unmount detaches the file system at mountPoint; one that is not mounted
// is no error.
func Unmount(mountPoint string) error {
	err := unix.Unmount(mountPoint, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", mountPoint, err)
}

// ValidatePath accepts an absolute, clean path without "..".
func ValidatePath(path string) error {
	if path == "" || !filepath.IsAbs(path) {
		return fmt.Errorf("path %q is not absolute: %w", path, errdefs.ErrInvalidArgument)
	}
	if filepath.Clean(path) != path || strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") {
		return fmt.Errorf("path %q is not clean: %w", path, errdefs.ErrInvalidArgument)
	}
	return nil
}
