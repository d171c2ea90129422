package config

import (
	"fmt"
	"math"
	"strings"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// Defaults and limits of the [hypervisor.*] sections on riscv64.
const (
	DefaultQEMUPath        = "/usr/bin/qemu-system-riscv64"
	DefaultFirecrackerPath = "/usr/bin/firecracker"
	DefaultKernelPath      = "/usr/share/kata-containers/vmlinux.container"
	DefaultImagePath       = "/usr/share/kata-containers/kata-containers.img"
	DefaultVirtioFSDaemon  = "/usr/libexec/virtiofsd"
	DefaultEntropySource   = "/dev/urandom"
	DefaultMachineType     = "virt"

	DefaultVCPUs       = 1
	DefaultMemoryMiB   = 2048
	DefaultMemorySlots = 10
	DefaultBridges     = 1
	// DefaultMsize9p is the Linux 9p client's own default. With upstream
	// Kata's 8192, a cold start's container program printed its output about
	// 80 ms later under TCG (measured with a 2.4 MiB static binary).
	DefaultMsize9p = 128 << 10

	// MaxVCPUs is the hart limit of QEMU's riscv64 virt machine
	// (VIRT_CPUS_MAX, 512 since QEMU 7.0), also upstream Kata's riscv64 limit.
	MaxVCPUs = 512
	// MaxFirecrackerVCPUs is the vcpu_count limit of Firecracker's
	// /machine-config API.
	MaxFirecrackerVCPUs = 32
	// MinMemoryMiB is the smallest default_memory accepted.
	MinMemoryMiB = 64
	// MaxBridges and MaxPCIeRootPorts are upstream Kata's limits.
	MaxBridges       = 5
	MaxPCIeRootPorts = 16
	// MinMsize9p and MaxMsize9p bound the 9p packet payload, as upstream
	// Kata's msize_9p annotation check does.
	MinMsize9p = 4096
	MaxMsize9p = 1 << 20
)

// hypervisor validates one [hypervisor.<name>] section and converts it.
func (d *decoder) hypervisor(name string, h *tomlHypervisor) vc.HypervisorConfig {
	s := section{d: d, path: []string{"hypervisor", name}}
	isQEMU := name == string(vc.QemuHypervisor)

	cfg := vc.HypervisorConfig{
		Type:                   vc.HypervisorType(name),
		RootfsType:             s.oneOf("rootfs_type", h.RootfsType, "ext4", "ext4", "xfs", "erofs"),
		KernelParams:           strings.Fields(h.KernelParams),
		DisableBlockDeviceUse:  h.DisableBlockDeviceUse,
		ConvertRootfsDirectory: h.ConvertRootfsDirectory,
		// The virt machine has no NVDIMM: the image is always virtio-blk.
		DisableImageNvdimm:       true,
		UseLegacySerial:          h.UseLegacySerial,
		GuestHookPath:            h.GuestHookPath,
		DisableNestingChecks:     h.DisableNestingChecks,
		DisableVhostNet:          h.DisableVhostNet,
		EnableDebug:              h.EnableDebug,
		EnableAnnotations:        h.EnableAnnotations,
		ValidHypervisorPaths:     h.ValidHypervisorPaths,
		ValidJailerPaths:         h.ValidJailerPaths,
		ValidVirtioFSDaemonPaths: h.ValidVirtioFSDaemonPaths,
		ValidEntropySources:      h.ValidEntropySources,
	}

	d.hypervisorFiles(s, h, &cfg, isQEMU)
	d.hypervisorSizes(s, h, &cfg, isQEMU)
	if isQEMU {
		d.qemuMachine(s, h, &cfg)
		d.qemuDevices(s, h, &cfg)
	} else {
		d.firecrackerMachine(s, h, &cfg)
	}
	d.hypervisorRiscv64(s, h)

	for _, p := range cfg.KernelParams {
		if strings.HasPrefix(p, "root=/dev/pmem") {
			s.unsupported("kernel_params", p, reasonNoNVDIMM, "remove it: the runtime passes the image's root device (/dev/vda1)")
		}
	}
	s.checkRegexps("enable_annotations", h.EnableAnnotations)
	s.checkGlobs("valid_hypervisor_paths", h.ValidHypervisorPaths)
	s.checkGlobs("valid_jailer_paths", h.ValidJailerPaths)
	s.checkGlobs("valid_virtio_fs_daemon_paths", h.ValidVirtioFSDaemonPaths)
	s.checkGlobs("valid_entropy_sources", h.ValidEntropySources)
	s.checkAbs("guest_hook_path", h.GuestHookPath)

	return cfg
}

// hypervisorFiles checks the VMM binary and the guest assets.
func (d *decoder) hypervisorFiles(s section, h *tomlHypervisor, cfg *vc.HypervisorConfig, isQEMU bool) {
	cfg.Path = h.Path
	install := "install a riscv64 Firecracker build or set path to its binary"
	if cfg.Path == "" {
		cfg.Path = DefaultFirecrackerPath
	}
	if isQEMU {
		install = "install QEMU (Debian package qemu-system-misc) or set path to qemu-system-riscv64"
		if h.Path == "" {
			cfg.Path = DefaultQEMUPath
		}
	}
	s.checkFile("path", cfg.Path, executableFile, install)

	cfg.KernelPath = h.Kernel
	if cfg.KernelPath == "" {
		cfg.KernelPath = DefaultKernelPath
	}
	s.checkFile("kernel", cfg.KernelPath, regularFile, "build the riscv64 guest kernel with osbuilder and install it there, or set kernel to its path")

	cfg.ImagePath, cfg.InitrdPath = h.Image, h.Initrd
	switch {
	case h.Image != "" && h.Initrd != "":
		s.invalid("initrd", h.Initrd, "image and initrd are both set; the guest boots from exactly one of them",
			"remove image or initrd")
	case h.Image == "" && h.Initrd == "":
		s.invalid("image", "", "neither image nor initrd is set",
			fmt.Sprintf("set image = %q (a disk image) or initrd to an initramfs", DefaultImagePath))
	case h.Image != "":
		s.checkFile("image", h.Image, regularFile, "build the guest image with osbuilder and install it there, or set image to its path")
	default:
		s.checkFile("initrd", h.Initrd, regularFile, "build the guest initrd with osbuilder and install it there, or set initrd to its path")
	}

	if h.JailerPath != "" {
		if isQEMU {
			s.ignore("jailer_path", true, "only Firecracker has a jailer")
		} else {
			cfg.JailerPath = h.JailerPath
			s.checkFile("jailer_path", h.JailerPath, executableFile, "install Firecracker's jailer or remove jailer_path to run Firecracker without it")
		}
	}

	s.checkAbs("entropy_source", h.EntropySource)
	cfg.EntropySource = h.EntropySource
	if cfg.EntropySource == "" {
		cfg.EntropySource = DefaultEntropySource
	}
}

// hypervisorSizes checks vCPU, memory and PCI counts.
func (d *decoder) hypervisorSizes(s section, h *tomlHypervisor, cfg *vc.HypervisorConfig, isQEMU bool) {
	maxVCPUs := int64(MaxVCPUs)
	if !isQEMU {
		maxVCPUs = MaxFirecrackerVCPUs
	}

	cfg.DefaultMaxVCPUs = uint32(s.inRange("default_maxvcpus", h.DefaultMaxVCPUs, 0, 1, maxVCPUs, ""))

	cfg.DefaultVCPUs = DefaultVCPUs
	switch v := h.DefaultVCPUs; {
	case !s.defined("default_vcpus") || v == 0:
	case v != math.Trunc(v):
		s.invalid("default_vcpus", v, "must be a whole number of vCPUs", "round it to a whole number")
	case v < 1 || v > float64(maxVCPUs):
		s.invalid("default_vcpus", v, fmt.Sprintf("must be between 1 and %d", maxVCPUs),
			"set default_vcpus within that range, or remove it for the default 1")
	case cfg.DefaultMaxVCPUs != 0 && uint32(v) > cfg.DefaultMaxVCPUs:
		s.invalid("default_vcpus", v, fmt.Sprintf("is larger than default_maxvcpus (%d)", cfg.DefaultMaxVCPUs),
			"lower default_vcpus or raise default_maxvcpus")
	default:
		cfg.DefaultVCPUs = uint32(v)
	}

	cfg.MaxMemoryMiB = uint32(s.inRange("default_maxmemory", h.DefaultMaxMem, 0, MinMemoryMiB, math.MaxUint32, " MiB"))
	cfg.MemoryMiB = uint32(s.inRange("default_memory", h.DefaultMemory, DefaultMemoryMiB, MinMemoryMiB, math.MaxUint32, " MiB"))
	if cfg.MaxMemoryMiB != 0 && cfg.MemoryMiB > cfg.MaxMemoryMiB {
		s.invalid("default_memory", cfg.MemoryMiB, fmt.Sprintf("is larger than default_maxmemory (%d MiB)", cfg.MaxMemoryMiB),
			"lower default_memory or raise default_maxmemory")
	}
	cfg.MemorySlots = uint32(s.inRange("memory_slots", h.MemorySlots, DefaultMemorySlots, 1, math.MaxUint32, ""))

	if h.MemoryOffset < 0 {
		s.invalid("memory_offset", h.MemoryOffset, "must not be negative", "remove it")
	}
	s.ignore("memory_offset", h.MemoryOffset > 0, reasonNoNVDIMM)

	if h.EnableVirtioMem {
		s.unsupported("enable_virtio_mem", true,
			"kata-riscv64 sizes riscv64 VMs statically and does not drive virtio-mem", "remove enable_virtio_mem or set it to false")
	}
}

// hypervisorRiscv64 rejects upstream settings the riscv64 guest cannot have.
func (d *decoder) hypervisorRiscv64(s section, h *tomlHypervisor) {
	if h.EnableIOMMU {
		s.unsupported("enable_iommu", true, "riscv64 guests get no vIOMMU (upstream Kata rejects it on riscv64 too)",
			"remove enable_iommu or set it to false")
	}
	if h.EnableIOMMUPlatform {
		s.unsupported("enable_iommu_platform", true, "riscv64 guests get no vIOMMU, so devices cannot sit behind one",
			"remove enable_iommu_platform or set it to false")
	}
	if h.ConfidentialGuest {
		s.unsupported("confidential_guest", true, reasonNoCC, "remove confidential_guest or set it to false")
	}
	if s.defined("disable_image_nvdimm") && !h.DisableImageNvdimm {
		s.ignore("disable_image_nvdimm", true, reasonNoNVDIMM)
	}
}
