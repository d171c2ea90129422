package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrNoFreeRootPort reports a hot-plug when every pcie-root-port is taken.
var ErrNoFreeRootPort = errors.New("no free pcie-root-port")

// blockNodeName is the QMP block node behind a hot-plugged disk.
func blockNodeName(id string) string { return "drive-" + id }

// rootPortPCIPath returns the PCI path the agent resolves for a device in
// root port index: the root port's slot on pcie.0, then slot 0 below it, in
// upstream Kata's "bridge/device" hex form.
func rootPortPCIPath(index int) string {
	return fmt.Sprintf("%02x/00", firstRootPortPCISlot+index)
}

// HotplugBlock implements Hypervisor. The riscv64 virt machine has neither
// ACPI nor SHPC hot-plug, so the disk goes into a free pcie-root-port, whose
// native PCIe hot-plug the guest's pciehp driver handles. It returns the PCI
// path of the new disk.
func (q *Qemu) HotplugBlock(ctx context.Context, dev BlockDevice) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()

	if q.state != vmRunning {
		return "", fmt.Errorf("hot-plugging %s into sandbox %s: %w", dev.ID, q.id, ErrVMNotRunning)
	}
	if q.machine.transport != VirtioPCI {
		return "", fmt.Errorf("hot-plugging %s: %w: virtio-mmio has no hot-plug; use the pci virtio transport", dev.ID, ErrNotSupported)
	}
	if dev.ID == "" || slices.Contains(q.rootPorts, dev.ID) {
		return "", fmt.Errorf("hot-plugging block device id %q: %w: ids must be set and unique", dev.ID, ErrInvalidConfig)
	}

	port := slices.Index(q.rootPorts, "")
	if port < 0 {
		return "", fmt.Errorf("hot-plugging %s: %w: all %d are in use; raise pcie_root_port", dev.ID, ErrNoFreeRootPort, len(q.rootPorts))
	}

	node := blockNodeName(dev.ID)
	if err := q.res.qmp.blockdevAddFile(ctx, node, dev.Path, dev.ReadOnly); err != nil {
		return "", fmt.Errorf("hot-plugging %s (%s): %w", dev.ID, dev.Path, err)
	}
	err := q.res.qmp.deviceAdd(ctx, map[string]any{
		"driver": virtioDevice("virtio-blk", VirtioPCI),
		"id":     dev.ID,
		"drive":  node,
		"bus":    fmt.Sprintf("%s%d", rootPortPrefix, port),
	})
	if err != nil {
		if delErr := q.res.qmp.blockdevDel(ctx, node); delErr != nil {
			q.log.WithError(delErr).WithField("node", node).Warn("removing the block node of a failed hot-plug failed")
		}
		return "", fmt.Errorf("hot-plugging %s (%s): %w", dev.ID, dev.Path, err)
	}

	q.rootPorts[port] = dev.ID
	q.log.WithFields(map[string]any{"device": dev.ID, "path": dev.Path, "root-port": port}).Info("block device hot-plugged")
	return rootPortPCIPath(port), nil
}

// UnplugBlock implements Hypervisor. It waits until the guest has released
// the device (QEMU's DEVICE_DELETED event) or ctx ends, then removes the
// block node.
func (q *Qemu) UnplugBlock(ctx context.Context, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()

	if q.state != vmRunning {
		return fmt.Errorf("unplugging %s from sandbox %s: %w", id, q.id, ErrVMNotRunning)
	}
	port := slices.Index(q.rootPorts, id)
	if port < 0 || id == "" {
		return fmt.Errorf("unplugging block device %q: %w: it was not hot-plugged", id, ErrInvalidConfig)
	}

	if err := q.res.qmp.deviceDel(ctx, id); err != nil {
		return fmt.Errorf("unplugging %s: %w", id, err)
	}
	q.rootPorts[port] = ""
	if err := q.res.qmp.blockdevDel(ctx, blockNodeName(id)); err != nil {
		return fmt.Errorf("unplugging %s: %w", id, err)
	}
	q.log.WithField("device", id).Info("block device unplugged")
	return nil
}
