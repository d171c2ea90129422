package config

import (
	"math"
	"strings"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// qemuMachine checks the [hypervisor.qemu] keys that shape -machine, -cpu
// and -bios.
func (d *decoder) qemuMachine(s section, h *tomlHypervisor, cfg *vc.HypervisorConfig) {
	cfg.MachineType = DefaultMachineType
	if h.MachineType != "" && h.MachineType != DefaultMachineType {
		s.invalid("machine_type", h.MachineType, "riscv64 QEMU runs Kata guests only on the \"virt\" machine",
			"set machine_type = \"virt\" or remove it")
	}

	cfg.Accelerator = vc.Accelerator(s.oneOf("accelerator", h.Accelerator, string(vc.AccelKVM),
		string(vc.AccelKVM), string(vc.AccelTCG)))
	cfg.AIA = vc.AIAMode(s.oneOf("aia", h.AIA, string(vc.AIAAuto),
		string(vc.AIAAuto), string(vc.AIANone), string(vc.AIAAPLIC), string(vc.AIAAPLICIMSIC)))
	cfg.VirtioTransport = vc.VirtioTransport(s.oneOf("virtio_transport", h.VirtioTransport, string(vc.VirtioPCI),
		string(vc.VirtioPCI), string(vc.VirtioMMIO)))

	cfg.MachineAccelerators = h.MachineAccel
	for _, opt := range strings.Split(h.MachineAccel, ",") {
		opt = strings.TrimSpace(opt)
		switch {
		case strings.HasPrefix(opt, "accel="):
			s.invalid("machine_accelerators", opt, "the accelerator is chosen by the accelerator key",
				"remove "+opt+" and set accelerator = \"kvm\" or \"tcg\"")
		case strings.HasPrefix(opt, "aia="):
			s.invalid("machine_accelerators", opt, "the interrupt controller is chosen by the aia key",
				"remove "+opt+" and set aia instead")
		case strings.HasPrefix(opt, "nvdimm"):
			s.unsupported("machine_accelerators", opt, reasonNoNVDIMM, "remove "+opt)
		}
	}
	cfg.CPUFeatures = h.CPUFeatures

	if h.Firmware != "" {
		if cfg.Accelerator == vc.AccelKVM {
			s.unsupported("firmware", h.Firmware,
				"QEMU refuses M-mode firmware with KVM, and a KVM guest needs none because the host's SBI serves it",
				"remove firmware, or set accelerator = \"tcg\" to boot through OpenSBI")
		} else {
			cfg.FirmwarePath = h.Firmware
			s.checkFile("firmware", h.Firmware, regularFile,
				"install OpenSBI (Debian package opensbi) or remove firmware to use QEMU's built-in OpenSBI")
		}
	}

	cfg.DefaultBridges = uint32(s.inRange("default_bridges", h.DefaultBridges, DefaultBridges, 1, MaxBridges, ""))
	cfg.PCIeRootPorts = uint32(s.inRange("pcie_root_port", h.PCIeRootPort, 0, 0, MaxPCIeRootPorts, ""))
}

// qemuDevices checks the shared filesystem and block device keys.
func (d *decoder) qemuDevices(s section, h *tomlHypervisor, cfg *vc.HypervisorConfig) {
	fsType := s.oneOf("shared_fs", h.SharedFS, string(vc.SharedFSVirtioFS),
		string(vc.SharedFSVirtioFS), string(vc.SharedFS9P), string(vc.SharedFSNone), "virtio-fs-nydus")
	if fsType == "virtio-fs-nydus" {
		s.unsupported("shared_fs", fsType, "kata-riscv64 does not implement nydus image sharing",
			"set shared_fs = \"virtio-fs\"")
		fsType = string(vc.SharedFSVirtioFS)
	}
	cfg.SharedFS = vc.SharedFSType(fsType)

	if cfg.SharedFS == vc.SharedFSVirtioFS {
		cfg.VirtioFSDaemon = h.VirtioFSDaemon
		if cfg.VirtioFSDaemon == "" {
			cfg.VirtioFSDaemon = DefaultVirtioFSDaemon
		}
		s.checkFile("virtio_fs_daemon", cfg.VirtioFSDaemon, executableFile,
			"install virtiofsd (Debian package virtiofsd) or set virtio_fs_daemon to its path")
		cfg.VirtioFSCache = s.oneOf("virtio_fs_cache", h.VirtioFSCache, "auto", "never", "metadata", "auto", "always")
		cfg.VirtioFSCacheSize = uint32(s.inRange("virtio_fs_cache_size", h.VirtioFSCacheSize, 0, 0, math.MaxUint32, " MiB"))
		cfg.VirtioFSExtraArgs = h.VirtioFSExtraArgs
	}
	if cfg.SharedFS == vc.SharedFS9P {
		cfg.Msize9p = uint32(s.inRange("msize_9p", h.Msize9p, DefaultMsize9p, MinMsize9p, MaxMsize9p, " bytes"))
	}

	driver := s.oneOf("block_device_driver", h.BlockDeviceDriver, string(vc.BlockDriverVirtioBlk),
		string(vc.BlockDriverVirtioBlk), string(vc.BlockDriverVirtioSCSI), string(vc.BlockDriverNVDIMM),
		string(vc.BlockDriverVirtioMMIO), "virtio-blk-ccw")
	switch driver {
	case string(vc.BlockDriverNVDIMM):
		s.unsupported("block_device_driver", driver, reasonNoNVDIMM, "set block_device_driver = \"virtio-blk\"")
		driver = string(vc.BlockDriverVirtioBlk)
	case "virtio-blk-ccw":
		s.unsupported("block_device_driver", driver, "virtio-blk-ccw exists only on s390x", "set block_device_driver = \"virtio-blk\"")
		driver = string(vc.BlockDriverVirtioBlk)
	case string(vc.BlockDriverVirtioMMIO):
		s.invalid("block_device_driver", driver, "virtio-mmio is Firecracker's block driver; QEMU uses virtio-blk or virtio-scsi",
			"set block_device_driver = \"virtio-blk\"")
		driver = string(vc.BlockDriverVirtioBlk)
	}
	cfg.BlockDeviceDriver = vc.BlockDeviceDriver(driver)
	cfg.BlockDeviceAIO = s.oneOf("block_device_aio", h.BlockDeviceAIO, "io_uring", "threads", "native", "io_uring")

	s.ignore("convert_rootfs_directory", h.ConvertRootfsDirectory && cfg.SharedFS != vc.SharedFSNone,
		"container root filesystems reach the guest through shared_fs; the key applies only with shared_fs = \"none\"")
}

// firecrackerMachine checks [hypervisor.firecracker]: Firecracker runs only
// under KVM with its in-kernel AIA, on virtio-mmio, with no shared filesystem
// and no firmware.
func (d *decoder) firecrackerMachine(s section, h *tomlHypervisor, cfg *vc.HypervisorConfig) {
	cfg.Accelerator = vc.AccelKVM
	cfg.VirtioTransport = vc.VirtioMMIO
	cfg.SharedFS = vc.SharedFSNone

	for _, k := range []struct{ key, value, reason string }{
		{"accelerator", h.Accelerator, "Firecracker always runs under KVM"},
		{"aia", h.AIA, "Firecracker always uses KVM's in-kernel AIA"},
		{"virtio_transport", h.VirtioTransport, "Firecracker has only virtio-mmio"},
	} {
		if s.defined(k.key) {
			s.invalid(k.key, k.value, k.key+" is a [hypervisor.qemu] key: "+k.reason, "remove it")
		}
	}

	if h.SharedFS != "" && h.SharedFS != string(vc.SharedFSNone) {
		s.unsupported("shared_fs", h.SharedFS, "Firecracker has no shared filesystem; containers reach the guest as block devices",
			"remove shared_fs or set it to \"none\"")
	}

	driver := s.oneOf("block_device_driver", h.BlockDeviceDriver, string(vc.BlockDriverVirtioMMIO), string(vc.BlockDriverVirtioMMIO))
	cfg.BlockDeviceDriver = vc.BlockDeviceDriver(driver)
	if h.DisableBlockDeviceUse {
		s.invalid("disable_block_device_use", true,
			"Firecracker shares no filesystem with the guest, so container root filesystems reach it only as block devices",
			"set disable_block_device_use = false or remove it")
	}

	s.ignore("machine_type", h.MachineType != "", "Firecracker has a single machine model")
	s.ignore("machine_accelerators", h.MachineAccel != "", "Firecracker takes no machine options")
	s.ignore("cpu_features", h.CPUFeatures != "", "Firecracker takes no CPU features")
	s.ignore("firmware", h.Firmware != "", "Firecracker boots the kernel directly, without firmware")
	s.ignore("virtio_fs_daemon", h.VirtioFSDaemon != "", "Firecracker has no shared filesystem")
	s.ignore("default_bridges", h.DefaultBridges != 0, "Firecracker has no PCI bus")
	s.ignore("pcie_root_port", h.PCIeRootPort != 0, "Firecracker has no PCI bus")
}
