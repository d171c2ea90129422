package virtcontainers

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// guestSpec translates the host's OCI spec into the spec the guest's OCI
// runtime runs. The root filesystem and bind mounts point into the shared
// filesystem. Namespace paths, devices and hooks name host resources that do
// not exist inside the VM, so they are dropped.
func (c *Container) guestSpec(cc ContainerConfig, hostRoot string) (*specs.Spec, error) {
	spec, err := copySpec(cc.Spec)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.id, err)
	}

	readOnly := spec.Root != nil && spec.Root.Readonly
	guestRoot, err := c.share(hostRoot, "rootfs", false)
	if err != nil {
		return nil, err
	}
	spec.Root = &specs.Root{Path: guestRoot, Readonly: readOnly}

	for i := range spec.Mounts {
		m := &spec.Mounts[i]
		if !isBindMount(*m) {
			continue
		}
		source := m.Source
		if !filepath.IsAbs(source) {
			source = filepath.Join(cc.BundlePath, source)
		}
		name := fmt.Sprintf("mount-%d-%s", i, filepath.Base(m.Destination))
		guestPath, err := c.share(source, name, slices.Contains(m.Options, "ro"))
		if err != nil {
			return nil, fmt.Errorf("container %s: sharing mount %s: %w", c.id, m.Destination, err)
		}
		m.Source = guestPath
	}

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
