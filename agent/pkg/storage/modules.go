package storage

import "github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"

// Modules returns the kernel modules that mounting s needs, in load order:
// the device's driver, then the file system. The agent loads those that
// the guest has as modules and skips the rest (see kmod.OnDemand).
func Modules(s *grpc.Storage) []string {
	switch s.Driver {
	case Driver9p:
		return []string{"9pnet_virtio", "9p"}
	case DriverVirtioFS:
		return []string{"virtiofs"}
	case DriverBlk, DriverVirtioBlk:
		return append([]string{"virtio_blk"}, fsModules(s.Fstype)...)
	case DriverMmioBlk:
		return append([]string{"virtio_mmio", "virtio_blk"}, fsModules(s.Fstype)...)
	}
	return nil
}

// fsModules returns the modules of file system type fstype. ext4 computes
// its metadata checksums with crc32c through the crypto API, which
// modules.dep does not record, so crc32c comes first.
func fsModules(fstype string) []string {
	switch fstype {
	case "":
		return nil
	case "ext4":
		return []string{"crc32c_generic", "ext4"}
	}
	return []string{fstype}
}
