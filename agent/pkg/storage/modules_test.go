package storage

import (
	"slices"
	"testing"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

func TestStorageModules(t *testing.T) {
	cases := []struct {
		name string
		s    *grpc.Storage
		want []string
	}{
		{"9p", &grpc.Storage{Driver: Driver9p}, []string{"9pnet_virtio", "9p"}},
		{"virtio-fs", &grpc.Storage{Driver: DriverVirtioFS}, []string{"virtiofs"}},
		{"pci block ext4", &grpc.Storage{Driver: DriverBlk, Fstype: "ext4"}, []string{"virtio_blk", "crc32c_generic", "ext4"}},
		{"virtio-blk xfs", &grpc.Storage{Driver: DriverVirtioBlk, Fstype: "xfs"}, []string{"virtio_blk", "xfs"}},
		{"mmio block ext4", &grpc.Storage{Driver: DriverMmioBlk, Fstype: "ext4"}, []string{"virtio_mmio", "virtio_blk", "crc32c_generic", "ext4"}},
		{"ephemeral", &grpc.Storage{Driver: DriverEphemeral}, nil},
		{"local", &grpc.Storage{Driver: DriverLocal}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Modules(c.s); !slices.Equal(got, c.want) {
				t.Errorf("Modules = %v, want %v", got, c.want)
			}
		})
	}
}
