//go:build integration

package virtcontainers

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestVirtDeviceTreeLayout checks the addresses in qemu_riscv64_layout.go
// against the device tree of the installed QEMU: FDT node names such as
// "serial@10000000" carry the base address of each device.
func TestVirtDeviceTreeLayout(t *testing.T) {
	qemu := requireQEMU(t)

	tests := []struct {
		aia   string
		nodes []string
	}{
		{"none", []string{
			fmt.Sprintf("memory@%x", virtRAMBase),
			fmt.Sprintf("serial@%x", virtUART0Base),
			fmt.Sprintf("pci@%x", virtPCIeECAMBase),
			fmt.Sprintf("plic@%x", virtPLICBase),
			fmt.Sprintf("virtio_mmio@%x", virtVirtioMMIOBase),
			fmt.Sprintf("virtio_mmio@%x", virtVirtioMMIOBase+(virtVirtioMMIOs-1)*virtVirtioMMIOSize),
		}},
		{"aplic-imsic", []string{
			fmt.Sprintf("aplic@%x", virtPLICBase),
			"aplic@d000000",
			"imsics@28000000",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.aia, func(t *testing.T) {
			dtb := filepath.Join(t.TempDir(), "virt.dtb")
			out, err := exec.Command(qemu, "-machine", "virt,aia="+tc.aia+",dumpdtb="+dtb,
				"-m", "2048M", "-smp", "1", "-nodefaults", "-nographic").CombinedOutput()
			if err != nil {
				t.Fatalf("dumping the device tree: %v: %s", err, out)
			}
			blob, err := os.ReadFile(dtb)
			if err != nil {
				t.Fatal(err)
			}
			for _, node := range tc.nodes {
				if !bytes.Contains(blob, append([]byte(node), 0)) {
					t.Errorf("device tree of aia=%s has no node %s", tc.aia, node)
				}
			}
			extra := fmt.Sprintf("virtio_mmio@%x", virtVirtioMMIOBase+virtVirtioMMIOs*virtVirtioMMIOSize)
			if bytes.Contains(blob, append([]byte(extra), 0)) {
				t.Errorf("device tree has a ninth virtio-mmio slot %s", extra)
			}
		})
	}
}
