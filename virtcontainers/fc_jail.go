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
// at <chroot base>/<exec file name>/<id>/root, which is fc.vmDir, copies
// nothing the backend has not placed there, and execs Firecracker with the
// arguments after "--".
func (fc *Firecracker) jailerArgs() []string {
	return []string{
		"--id", fc.id,
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
	return []string{"--api-sock", fc.apiPath(fcAPISocket), "--id", fc.id}
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
	f.Close()
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

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
