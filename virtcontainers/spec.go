package virtcontainers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// guestSpec translates the host's OCI spec into the spec the guest's OCI
// runtime runs, with guestRoot, the root filesystem's path in the guest, as
// root path. Bind mounts point into the shared filesystem, or are left out
// on a sandbox without one (omitFileBindMount). Namespace paths,
// devices and hooks name host resources that do not exist inside the VM, so
// they are dropped.
func (c *Container) guestSpec(cc ContainerConfig, guestRoot string) (*specs.Spec, error) {
	spec, err := copySpec(cc.Spec)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.id, err)
	}

	readOnly := spec.Root != nil && spec.Root.Readonly
	spec.Root = &specs.Root{Path: guestRoot, Readonly: readOnly}

	mounts := spec.Mounts[:0]
	for i, m := range spec.Mounts {
		if !isBindMount(m) {
			mounts = append(mounts, m)
			continue
		}
		source := m.Source
		if !filepath.IsAbs(source) {
			source = filepath.Join(cc.BundlePath, source)
		}
		if !c.sandbox.hasSharedFS {
			if err := c.omitFileBindMount(m, source); err != nil {
				return nil, err
			}
			continue
		}
		name := fmt.Sprintf("mount-%d-%s", i, filepath.Base(m.Destination))
		guestPath, err := c.share(source, name, slices.Contains(m.Options, "ro"))
		if err != nil {
			return nil, fmt.Errorf("container %s: sharing mount %s: %w", c.id, m.Destination, err)
		}
		m.Source = guestPath
		mounts = append(mounts, m)
	}
	spec.Mounts = mounts

	// Hooks name host binaries; the guest cannot run them.
	spec.Hooks = nil

	if spec.Linux != nil {
		spec.Linux.Namespaces = guestNamespaces(spec.Linux.Namespaces)
		// Host devices do not exist in the guest.
		spec.Linux.Devices = nil
		// The host's cgroup path (a systemd slice under CRI) means nothing to
		// the guest's cgroup hierarchy, which holds only this sandbox.
		spec.Linux.CgroupsPath = "/kata/" + c.id
		if c.sandbox.cfg.DisableGuestSeccomp {
			spec.Linux.Seccomp = nil
		}
	}
	return spec, nil
}

// omitFileBindMount leaves bind mount m out of the spec of a sandbox without
// a shared filesystem, where no host path reaches the guest, and logs a
// warning. This covers files such as the /etc/hosts and /etc/resolv.conf
// that CRI and ctr --net-host add, so the container gets its rootfs's own
// copy.
// A directory is an error instead, because it is usually a volume, and the
// container's writes to it would otherwise land in its rootfs unnoticed.
//
// NOTE: upstream Kata copies such files into the guest with the agent's
// CopyFile, which this agent does not implement.
func (c *Container) omitFileBindMount(m specs.Mount, source string) error {
	info, err := os.Stat(source)
	if err == nil && info.IsDir() {
		return fmt.Errorf("container %s: bind mount of directory %s at %s cannot reach the guest of sandbox %s: %w (%s); remove the mount, or use the QEMU backend with shared_fs = \"virtio-fs\"",
			c.id, source, m.Destination, c.sandbox.cfg.ID, ErrNoSharedFilesystem, c.sandbox.cfg.HypervisorType)
	}
	c.log.WithFields(logrus.Fields{"source": source, "destination": m.Destination}).
		Warn("leaving out a bind mount: the sandbox shares no filesystem with the guest")
	return nil
}

// copySpec deep-copies spec through JSON, so the caller's spec stays as
// containerd wrote it.
func copySpec(spec *specs.Spec) (*specs.Spec, error) {
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encoding OCI spec: %w", err)
	}
	var out specs.Spec
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decoding OCI spec: %w", err)
	}
	return &out, nil
}

// isBindMount reports whether m brings a host path into the container.
func isBindMount(m specs.Mount) bool {
	if m.Type == "bind" {
		return true
	}
	return slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
}

// guestNamespaces keeps the namespace types the container requests, without
// host paths to join and without the network namespace. Containers use the
// guest's network, which the runtime configures for the whole sandbox.
func guestNamespaces(in []specs.LinuxNamespace) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range in {
		if ns.Type == specs.NetworkNamespace {
			continue
		}
		out = append(out, specs.LinuxNamespace{Type: ns.Type})
	}
	return out
}
