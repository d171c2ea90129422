// This file contains the QEMU backend's model of QEMU's riscv64 virt
// machine: machine and CPU options, AIA, firmware, the guest kernel command
// line, and the requests the machine cannot serve.
//
// The file name avoids the _riscv64.go suffix on purpose. Go builds such a
// file only for GOARCH=riscv64, but the machine described here is the guest's,
// and x86 build hosts drive it too, under TCG.

package virtcontainers

import (
	"errors"
	"fmt"
	"strings"
)

// The riscv64 virt machine defaults.
const (
	virtMachineType = "virt"

	// tcgCPUModel is QEMU's generic 64-bit RISC-V CPU. It includes the H
	// extension from QEMU 7.2 on, so nested guests work.
	tcgCPUModel = "rv64"
	kvmCPUModel = "host"

	// defaultFirmware makes QEMU load the OpenSBI build it ships.
	defaultFirmware = "default"
	noFirmware      = "none"

	defaultVCPUs     = 1
	defaultMemoryMiB = 2048

	// sharedFSTag is the mount tag of the sandbox's shared directory, the same
	// as upstream Kata's so guests built for it mount it unchanged.
	sharedFSTag = "kataShared"
)

// ErrMModeFirmwareWithKVM reports configured firmware under KVM. The host's
// SBI implementation serves a KVM guest, and QEMU refuses M-mode firmware
// such as OpenSBI with KVM ("Machine mode firmware is not supported in
// combination with KVM").
var ErrMModeFirmwareWithKVM = errors.New("M-mode firmware cannot run under KVM")

// ErrInvalidConfig reports a configuration value the backend cannot use.
var ErrInvalidConfig = errors.New("invalid hypervisor configuration")

// virtMachine is the resolved riscv64 virt machine of one VM: every value
// that shapes the QEMU command line and the guest kernel command line.
type virtMachine struct {
	accel     Accelerator
	aia       AIAMode
	cpu       string
	firmware  string
	vcpus     uint32
	memoryMiB uint32
	transport VirtioTransport
	sharedFS  SharedFSType
	// extraMachineOptions are machine_accelerators, appended to -machine.
	extraMachineOptions []string
}

// newVirtMachine validates cfg against what the riscv64 virt machine can do
// and fills in defaults. AIA stays as configured: auto is resolved later,
// once the QEMU binary and the host have been probed.
func newVirtMachine(cfg HypervisorConfig) (virtMachine, error) {
	if err := rejectUnsupported(cfg); err != nil {
		return virtMachine{}, err
	}

	m := virtMachine{
		accel:     cfg.Accelerator,
		aia:       cfg.AIA,
		firmware:  cfg.FirmwarePath,
		vcpus:     cfg.DefaultVCPUs,
		memoryMiB: cfg.MemoryMiB,
		transport: cfg.VirtioTransport,
		sharedFS:  cfg.SharedFS,
	}

	if m.accel == "" {
		m.accel = AccelKVM
	}
	if m.aia == "" {
		m.aia = AIANone
	}
	if m.vcpus == 0 {
		m.vcpus = defaultVCPUs
	}
	if m.memoryMiB == 0 {
		m.memoryMiB = defaultMemoryMiB
	}
	if m.transport == "" {
		m.transport = VirtioPCI
	}
	if m.sharedFS == "" {
		m.sharedFS = SharedFSNone
	}

	switch m.accel {
	case AccelKVM:
		m.cpu = kvmCPUModel
		if m.firmware != "" {
			return virtMachine{}, fmt.Errorf("firmware = %q with accelerator = \"kvm\": %w; remove firmware from [hypervisor.qemu] (the host's SBI serves the guest), or set accelerator = \"tcg\"",
				m.firmware, ErrMModeFirmwareWithKVM)
		}
		m.firmware = noFirmware
	case AccelTCG:
		m.cpu = tcgCPUModel
		if m.firmware == "" {
			m.firmware = defaultFirmware
		}
	default:
		return virtMachine{}, fmt.Errorf("accelerator = %q: %w: use \"kvm\" or \"tcg\"", m.accel, ErrInvalidConfig)
	}
	if features := strings.Trim(cfg.CPUFeatures, ", "); features != "" {
		m.cpu += "," + features
	}

	switch m.aia {
	case AIAAuto, AIANone, AIAAPLIC, AIAAPLICIMSIC:
	default:
		return virtMachine{}, fmt.Errorf("aia = %q: %w: use \"auto\", \"none\", \"aplic\" or \"aplic-imsic\"", m.aia, ErrInvalidConfig)
	}

	switch m.transport {
	case VirtioPCI, VirtioMMIO:
	default:
		return virtMachine{}, fmt.Errorf("virtio transport %q: %w: use \"pci\" or \"mmio\"", m.transport, ErrInvalidConfig)
	}

	switch m.sharedFS {
	case SharedFSNone, SharedFSVirtioFS, SharedFS9P:
	default:
		return virtMachine{}, fmt.Errorf("shared_fs = %q: %w: use \"virtio-fs\", \"virtio-9p\" or \"none\"", m.sharedFS, ErrInvalidConfig)
	}

	for _, opt := range strings.Split(cfg.MachineAccelerators, ",") {
		opt = strings.TrimSpace(opt)
		if opt == "" {
			continue
		}
		if strings.HasPrefix(opt, "accel=") || strings.HasPrefix(opt, "aia=") {
			return virtMachine{}, fmt.Errorf("machine_accelerators option %q: %w: set accelerator or aia instead", opt, ErrInvalidConfig)
		}
		m.extraMachineOptions = append(m.extraMachineOptions, opt)
	}

	return m, nil
}

// rejectUnsupported returns an error naming the configuration key of the
// first request the riscv64 virt machine cannot serve. Resources are static
// on riscv64: QEMU's virt machine has no ACPI, so neither CPU nor memory
// hot-plug exists, and it has neither NVDIMM nor a vIOMMU for guests.
func rejectUnsupported(cfg HypervisorConfig) error {
	if cfg.MachineType != "" && cfg.MachineType != virtMachineType {
		return fmt.Errorf("machine_type = %q: %w: riscv64 supports only %q", cfg.MachineType, ErrNotSupported, virtMachineType)
	}
	if cfg.EnableIOMMU {
		return fmt.Errorf("enable_iommu = true: %w: the riscv64 virt machine has no vIOMMU for guests; set enable_iommu = false", ErrNotSupported)
	}
	if cfg.BlockDeviceDriver == BlockDriverNVDIMM {
		return fmt.Errorf("block_device_driver = %q: %w: the riscv64 virt machine has no NVDIMM; use \"virtio-blk\"", cfg.BlockDeviceDriver, ErrNotSupported)
	}
	if cfg.EnableVirtioMem {
		return fmt.Errorf("enable_virtio_mem = true: %w: memory hot-plug is unavailable on the riscv64 virt machine; set enable_virtio_mem = false and size default_memory up front", ErrNotSupported)
	}
	if cfg.DefaultMaxVCPUs != 0 && cfg.DefaultMaxVCPUs > max(cfg.DefaultVCPUs, defaultVCPUs) {
		return fmt.Errorf("default_maxvcpus = %d above default_vcpus = %d: %w: CPU hot-plug is unavailable on the riscv64 virt machine; set default_maxvcpus = 0",
			cfg.DefaultMaxVCPUs, cfg.DefaultVCPUs, ErrNotSupported)
	}
	if cfg.MaxMemoryMiB != 0 && cfg.MaxMemoryMiB > max(cfg.MemoryMiB, defaultMemoryMiB) {
		return fmt.Errorf("default_maxmemory = %d above default_memory = %d: %w: memory hot-plug is unavailable on the riscv64 virt machine; set default_maxmemory = 0",
			cfg.MaxMemoryMiB, cfg.MemoryMiB, ErrNotSupported)
	}
	return nil
}

// machineOption returns the -machine value, for example
// "virt,accel=tcg,aia=aplic,memory-backend=mem0".
func (m virtMachine) machineOption(memoryBackend string) string {
	opts := []string{virtMachineType, "accel=" + string(m.accel)}
	if m.aia != AIANone {
		opts = append(opts, "aia="+string(m.aia))
	}
	if memoryBackend != "" {
		opts = append(opts, "memory-backend="+memoryBackend)
	}
	opts = append(opts, m.extraMachineOptions...)
	return strings.Join(opts, ",")
}

// kernelParamsInput is what the guest kernel command line depends on beyond
// the machine itself.
type kernelParamsInput struct {
	debug        bool
	legacySerial bool
	// rootDevice is the guest device of the image's root filesystem, or ""
	// for an initrd boot.
	rootDevice  string
	rootfsType  string
	vcpus       uint32
	agent       AgentConfig
	transport   VirtioTransport
	userParams  []string
	blockDriver BlockDeviceDriver
}

// guestKernelParams builds the guest kernel command line. The user's
// kernel_params come last, so they override the runtime's choices: the kernel
// and systemd take the last value of a repeated parameter.
func guestKernelParams(in kernelParamsInput) []string {
	var params []string

	if in.debug {
		params = append(params, "debug")
		// earlycon=sbi prints through the SBI console, before the console
		// driver loads.
		params = append(params, "earlycon=sbi")
	} else {
		params = append(params, "quiet")
	}

	if in.legacySerial {
		params = append(params, "console=ttyS0")
	} else {
		params = append(params, "console=hvc0")
	}

	params = append(params, "panic=1", fmt.Sprintf("nr_cpus=%d", in.vcpus))

	if in.rootDevice != "" {
		fsType := in.rootfsType
		if fsType == "" {
			fsType = "ext4"
		}
		params = append(params, "root="+in.rootDevice, "rootflags=data=ordered,errors=remount-ro", "ro", "rootfstype="+fsType)
		params = append(params,
			"systemd.unit=kata-containers.target",
			"systemd.mask=systemd-networkd.service",
			"systemd.mask=systemd-networkd.socket")
		if in.debug {
			params = append(params, "systemd.show_status=true", "systemd.log_level=debug")
		} else {
			params = append(params, "systemd.show_status=false")
		}
	}

	if in.blockDriver == BlockDriverVirtioSCSI {
		// The agent scans for the disks that the runtime's requests name,
		// so an automatic scan of every LUN only slows the boot.
		params = append(params, "scsi_mod.scan=none")
	}

	if in.agent.EnableDebug {
		params = append(params, "agent.log=debug")
	}
	if in.agent.EnableTracing {
		params = append(params, "agent.trace=true")
	}
	if in.agent.DebugConsoleEnabled {
		params = append(params, "agent.debug_console", fmt.Sprintf("agent.debug_console_vport=%d", agentDebugConsolePort))
	}

	return append(params, in.userParams...)
}

// agentDebugConsolePort is the vsock port of the agent's debug console, the
// same as upstream Kata's.
const agentDebugConsolePort = 1026
