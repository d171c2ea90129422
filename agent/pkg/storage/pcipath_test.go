package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

func TestIsPCIPath(t *testing.T) {
	tests := map[string]bool{
		"02":       true,
		"02/00":    true,
		"1f/0a/03": true,
		"":         false,
		"2/0":      false,
		"02/":      false,
		"/dev/vda": false,
		"0g":       false,
	}
	for path, want := range tests {
		if got := IsPCIPath(path); got != want {
			t.Errorf("IsPCIPath(%q) = %v, want %v", path, got, want)
		}
	}
}

// makeSysfs builds the sysfs layout of a riscv64 virt machine with a disk
// behind the PCIe root port in slot 2: the host bridge lives under
// devices/platform, and bus/pci/devices links to it.
func makeSysfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	bridge := filepath.Join(root, "devices/platform/soc/30000000.pci/pci0000:00")
	port := filepath.Join(bridge, "0000:00:02.0")
	disk := filepath.Join(port, "0000:01:00.0")
	if err := os.MkdirAll(filepath.Join(disk, "virtio3/block/vdb"), 0o755); err != nil {
		t.Fatal(err)
	}
	links := filepath.Join(root, "bus/pci/devices")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dev := range []string{port, disk} {
		if err := os.Symlink(dev, filepath.Join(links, filepath.Base(dev))); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestBlockDeviceForPCIPath(t *testing.T) {
	sys := makeSysfs(t)
	tests := []struct {
		path string
		want string
	}{
		{"02/00", "/dev/vdb"},
		{"02/01", ""},
		{"03/00", ""},
		{"02", ""},
	}
	for _, tt := range tests {
		if got := blockDeviceForPCIPath(sys, tt.path); got != tt.want {
			t.Errorf("blockDeviceForPCIPath(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestResolveBlockSourceTimesOut(t *testing.T) {
	sys := makeSysfs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := ResolveBlockSource(ctx, sys, "05/00")
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("resolveBlockSource of an absent device = %v, want ErrNotFound", err)
	}
}
