package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

// prepareBundle creates the bundle directory of a container: its rootfs
// bind-mounted from spec.Root.Path (a directory on the shared storage) and
// config.json for the runtime. It adjusts spec to the guest on the way.
func prepareBundle(bundle string, spec *specs.Spec) error {
	if spec.Root == nil || spec.Root.Path == "" {
		return fmt.Errorf("OCI spec has no root path: %w", errdefs.ErrInvalidArgument)
	}
	source := spec.Root.Path
	if !filepath.IsAbs(source) {
		return fmt.Errorf("root path %q of the OCI spec is not absolute: %w", source, errdefs.ErrInvalidArgument)
	}
	if fi, err := os.Stat(source); err != nil {
		return fmt.Errorf("rootfs %s: %w", source, errors.Join(errdefs.ErrNotFound, err))
	} else if !fi.IsDir() {
		return fmt.Errorf("rootfs %s is not a directory: %w", source, errdefs.ErrInvalidArgument)
	}

	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return fmt.Errorf("creating bundle %s: %w", bundle, err)
	}
	// done stays false on errors and panics alike, so both clean up.
	done := false
	defer func() {
		if !done {
			if err := removeBundle(bundle); err != nil {
				logrus.WithError(err).WithField("bundle", bundle).Error("failed to remove a bundle after a failed prepare")
			}
		}
	}()

	if err := unix.Mount(source, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting rootfs %s on %s: %w", source, rootfs, err)
	}
	adjustSpec(spec, filepath.Base(bundle))
	spec.Root.Path = rootfs

	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("encoding config.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("writing config.json of bundle %s: %w", bundle, err)
	}
	done = true
	return nil
}

// adjustSpec fits a spec written on the host to the guest: namespace paths
// name host files, and the network namespace is the guest's own, which the
// runtime configures through UpdateInterface and UpdateRoutes.
// A systemd cgroup path ("slice:prefix:name") becomes a cgroupfs path, since
// the agent drives the OCI runtime without systemd.
func adjustSpec(spec *specs.Spec, id string) {
	if spec.Linux == nil {
		return
	}
	if path := spec.Linux.CgroupsPath; path != "" && !strings.HasPrefix(path, "/") && strings.Count(path, ":") == 2 {
		slice, _, _ := strings.Cut(path, ":")
		spec.Linux.CgroupsPath = "/" + strings.TrimSuffix(slice, ".slice") + "/" + id
	}
	namespaces := spec.Linux.Namespaces[:0]
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			continue
		}
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				ns.Path = ""
			}
		}
		namespaces = append(namespaces, ns)
	}
	spec.Linux.Namespaces = namespaces
}

// removeBundle unmounts the rootfs and deletes the bundle directory. The
// rootfs mount point is removed with rmdir, never recursively, so that a
// mount that is still attached cannot lose the shared files under it.
func removeBundle(bundle string) error {
	rootfs := filepath.Join(bundle, "rootfs")
	if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting rootfs %s: %w", rootfs, err)
	}

	entries, err := os.ReadDir(bundle)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading bundle %s: %w", bundle, err)
	}
	for _, e := range entries {
		path := filepath.Join(bundle, e.Name())
		if e.Name() == "rootfs" {
			err = os.Remove(path)
		} else {
			err = os.RemoveAll(path)
		}
		if err != nil {
			return fmt.Errorf("removing %s: %w", path, err)
		}
	}
	if err := os.Remove(bundle); err != nil {
		return fmt.Errorf("removing bundle %s: %w", bundle, err)
	}
	return nil
}
