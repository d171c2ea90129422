package virtcontainers

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// bindMount bind-mounts source at target, creating target as a directory or
// an empty file to match source. With readOnly the mount is remounted
// read-only, because MS_RDONLY is ignored on the first bind mount call.
func bindMount(source, target string, readOnly bool) error {
	info, err := os.Stat(source)
	if err != nil {
		return fmt.Errorf("bind mount source %s: %w", source, err)
	}

	if info.IsDir() {
		if err := os.MkdirAll(target, 0o750); err != nil {
			return fmt.Errorf("creating mount point %s: %w", target, err)
		}
	} else {
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o640)
		if err != nil {
			return fmt.Errorf("creating mount point %s: %w", target, err)
		}
		f.Close()
	}

	if err := unix.Mount(source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind mounting %s on %s: %w", source, target, err)
	}
	if readOnly {
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_REC)
		if err := unix.Mount("", target, "", flags, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remounting %s read-only: %w", target, err)
		}
	}
	return nil
}

// unmount detaches the mount at target. A target that is not mounted or no
// longer exists is not an error, so cleanup can run more than once.
func unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmounting %s: %w", target, err)
}
