package virtcontainers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// apiPath returns the path of the VM directory file name in API requests:
// at the chroot's root inside the jail, the host path outside it.
func (fc *Firecracker) apiPath(name string) string {
	if fc.jailed {
		return "/" + name
	}
	return filepath.Join(fc.vmDir, name)
}

// jailerArgs returns the jailer's command line. The jailer builds its chroot
// at <chroot base>/<exec file name>/<id>/root, which is fc.vmDir, copies the
// Firecracker binary into it and execs it there with the arguments after
// "--" (Firecracker's docs/jailer.md). Every other file Firecracker opens
// must be in the chroot before the jailer starts, which exposeFile ensures.
func (fc *Firecracker) jailerArgs() []string {
	return []string{
		"--id", fc.vmID,
		"--exec-file", fc.hc.Path,
		"--uid", strconv.Itoa(fc.opts.JailerUID),
		"--gid", strconv.Itoa(fc.opts.JailerGID),
		"--chroot-base-dir", fc.opts.RunRoot,
		"--",
		"--api-sock", fc.apiPath(fcAPISocket),
	}
}

// firecrackerArgs returns Firecracker's command line when it runs without
// the jailer.
func (fc *Firecracker) firecrackerArgs() []string {
	return []string{"--api-sock", fc.apiPath(fcAPISocket), "--id", fc.vmID}
}

// exposeFile makes the host file src visible to Firecracker as the VM
// directory file name. It returns the path to send in API requests and the
// step that undoes it. Without the jailer it returns src unchanged. In the
// jail it hard-links src, or bind-mounts it when src is on another
// filesystem or may not be linked.
func (fc *Firecracker) exposeFile(src, name string) (apiPath string, undo func() error, err error) {
	if !fc.jailed {
		return src, func() error { return nil }, nil
	}
	dst := filepath.Join(fc.vmDir, name)
	remove := func() error { return removeIfExists(dst) }

	err = os.Link(src, dst)
	if err == nil {
		return fc.apiPath(name), remove, nil
	}
	if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EPERM) {
		return "", nil, fmt.Errorf("linking %s into the Firecracker jail as %s: %w", src, dst, err)
	}

	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("creating bind-mount target %s: %w", dst, err)
	}
	_ = f.Close()
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return "", nil, errors.Join(
			fmt.Errorf("bind-mounting %s into the Firecracker jail as %s (needs root): %w", src, dst, err),
			remove())
	}
	unmountAndRemove := func() error {
		if err := unix.Unmount(dst, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting %s: %w", dst, err)
		}
		return remove()
	}
	return fc.apiPath(name), unmountAndRemove, nil
}

// chownForJail gives the VM directory file name (the directory itself for
// "") to the ids the jailer runs Firecracker as, which must open it
// read-write. For a file exposed by a hard link or a bind mount this changes
// the owner of the host file too.
func (fc *Firecracker) chownForJail(name string) error {
	if !fc.jailed || (fc.opts.JailerUID == 0 && fc.opts.JailerGID == 0) {
		return nil
	}
	path := filepath.Join(fc.vmDir, name)
	if err := os.Chown(path, fc.opts.JailerUID, fc.opts.JailerGID); err != nil {
		return fmt.Errorf("giving %s to the jailed Firecracker's ids %d:%d: %w", path, fc.opts.JailerUID, fc.opts.JailerGID, err)
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
