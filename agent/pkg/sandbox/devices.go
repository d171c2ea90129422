package sandbox

import (
	"context"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/storage"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// Device types of the protocol that the agent maps into containers.
var blockDeviceTypes = map[string]bool{"blk": true, "virtio-blk": true, "mmioblk": true}

// applyDevices finds each device of the request in the guest and rewrites
// the spec's device entry with the same path to the guest's device number,
// because the host's major and minor numbers mean nothing in the VM. The
// device is also allowed in the container's device cgroup.
func (s *Sandbox) applyDevices(ctx context.Context, spec *specs.Spec, devices []*grpc.Device) error {
	for _, d := range devices {
		if d == nil {
			return fmt.Errorf("device is nil: %w", errdefs.ErrInvalidArgument)
		}
		if !blockDeviceTypes[d.Type] {
			return fmt.Errorf("device %s of type %q: %w", d.Id, d.Type, errdefs.ErrUnimplemented)
		}
		modules := []string{"virtio_blk"}
		if d.Type == storage.DriverMmioBlk {
			modules = []string{"virtio_mmio", "virtio_blk"}
		}
		if err := s.cfg.OnDemand.Need(modules...); err != nil {
			return fmt.Errorf("device %s: %w", d.Id, err)
		}
		source := d.VmPath
		if source == "" {
			source = d.Id
		}
		node, err := storage.ResolveBlockSource(ctx, s.cfg.Sysfs, source)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.Id, err)
		}
		if d.ContainerPath == "" {
			// The runtime only waits for the device, for a storage that
			// mounts it.
			continue
		}
		if err := setSpecDevice(spec, d.ContainerPath, node); err != nil {
			return err
		}
	}
	return nil
}

// setSpecDevice points the spec's device at containerPath to the guest's
// node, adding the entry and its cgroup permission when missing.
func setSpecDevice(spec *specs.Spec, containerPath, node string) error {
	var st unix.Stat_t
	if err := unix.Stat(node, &st); err != nil {
		return fmt.Errorf("reading device %s: %w", node, err)
	}
	kind := "c"
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		kind = "b"
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))

	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	found := false
	for i := range spec.Linux.Devices {
		if spec.Linux.Devices[i].Path == containerPath {
			spec.Linux.Devices[i].Type = kind
			spec.Linux.Devices[i].Major = major
			spec.Linux.Devices[i].Minor = minor
			found = true
		}
	}
	if !found {
		spec.Linux.Devices = append(spec.Linux.Devices, specs.LinuxDevice{Path: containerPath, Type: kind, Major: major, Minor: minor})
	}

	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
		Allow: true, Type: kind, Major: &major, Minor: &minor, Access: "rwm",
	})
	return nil
}
