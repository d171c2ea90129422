package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

// pciSlot is one hop of a PCI path: a two-digit hexadecimal slot.
var pciSlot = regexp.MustCompile(`^[0-9a-f]{2}$`)

// IsPCIPath reports whether source is a PCI path as the runtime writes it
// for hot-plugged devices: slots from the root bus down, such as "02/00"
// (device in slot 0 behind the bridge or root port in slot 2).
func IsPCIPath(source string) bool {
	for _, slot := range strings.Split(source, "/") {
		if !pciSlot.MatchString(slot) {
			return false
		}
	}
	return true
}

// blockDeviceForPCIPath returns /dev/NAME for the block device of the PCI
// device at pciPath in sysfs mounted at sysRoot, or "" when it is not
// there (yet).
func blockDeviceForPCIPath(sysRoot, pciPath string) string {
	slots := strings.Split(pciPath, "/")
	dev, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "bus/pci/devices", "0000:00:"+slots[0]+".0"))
	if err != nil {
		return ""
	}
	for _, slot := range slots[1:] {
		matches, _ := filepath.Glob(filepath.Join(dev, "*:*:"+slot+".0"))
		if len(matches) != 1 {
			return ""
		}
		dev = matches[0]
	}

	blocks, _ := filepath.Glob(filepath.Join(dev, "virtio*", "block", "*"))
	direct, _ := filepath.Glob(filepath.Join(dev, "block", "*"))
	blocks = append(blocks, direct...)
	if len(blocks) == 0 {
		return ""
	}
	return filepath.Join("/dev", filepath.Base(blocks[0]))
}

// deviceWaitTimeout bounds the wait for a hot-plugged device, so that a
// request naming a device that never comes does not hang forever.
const deviceWaitTimeout = 30 * time.Second

// ResolveBlockSource returns the device node of a block storage source, a
// /dev path or a PCI path. It waits for a hot-plugged device to appear, up
// to deviceWaitTimeout or until ctx ends.
func ResolveBlockSource(ctx context.Context, sysRoot, source string) (string, error) {
	if !strings.HasPrefix(source, "/dev/") && !IsPCIPath(source) {
		return "", fmt.Errorf("block storage source %q is neither a /dev path nor a PCI path: %w", source, errdefs.ErrInvalidArgument)
	}
	ctx, cancel := context.WithTimeout(ctx, deviceWaitTimeout)
	defer cancel()
	for {
		dev := source
		if IsPCIPath(source) {
			dev = blockDeviceForPCIPath(sysRoot, source)
		}
		if dev != "" {
			if _, err := os.Stat(dev); err == nil {
				return dev, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("block device %s did not appear: %w", source, errors.Join(errdefs.ErrNotFound, ctx.Err()))
		case <-time.After(devicePollInterval):
		}
	}
}
