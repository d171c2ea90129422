package virtcontainers

import "time"

// Accelerator selects how QEMU runs guest code.
type Accelerator string

// Accelerators for the riscv64 virt machine.
const (
	// AccelKVM uses the host's H extension through /dev/kvm; the default.
	AccelKVM Accelerator = "kvm"
	// AccelTCG emulates the guest, for hosts without the H extension.
	AccelTCG Accelerator = "tcg"
)

// AIAMode selects the interrupt controller of the riscv64 virt machine.
type AIAMode string

// AIA modes, as QEMU's virt machine spells its aia= property, plus auto.
const (
	// AIAAuto picks the best mode this QEMU accepts and the host's KVM supports.
	AIAAuto AIAMode = "auto"
	// AIANone uses the PLIC, which every QEMU and guest kernel supports.
	AIANone AIAMode = "none"
	// AIAAPLIC uses the APLIC with wired interrupts only.
	AIAAPLIC AIAMode = "aplic"
	// AIAAPLICIMSIC adds IMSICs, which give virtio-pci MSIs.
	AIAAPLICIMSIC AIAMode = "aplic-imsic"
)

// SharedFSType is how the host shares container filesystems with the guest.
type SharedFSType string

// Shared filesystem types, as configuration.toml's shared_fs spells them.
const (
	SharedFSVirtioFS SharedFSType = "virtio-fs"
	SharedFS9P       SharedFSType = "virtio-9p"
	SharedFSNone     SharedFSType = "none"
)

// VirtioTransport is the bus virtio devices sit on.
type VirtioTransport string

// Virtio transports of the riscv64 virt machine.
const (
	// VirtioPCI places devices on the PCIe host bridge, hot-pluggable through
	// pcie-root-port; the default.
	VirtioPCI VirtioTransport = "pci"
	// VirtioMMIO uses the machine's fixed virtio-mmio slots, without hot-plug.
	VirtioMMIO VirtioTransport = "mmio"
)

// BlockDeviceDriver is how container block devices are attached.
type BlockDeviceDriver string

// Block device drivers, as configuration.toml's block_device_driver spells them.
const (
	BlockDriverVirtioBlk  BlockDeviceDriver = "virtio-blk"
	BlockDriverVirtioSCSI BlockDeviceDriver = "virtio-scsi"
	BlockDriverVirtioMMIO BlockDeviceDriver = "virtio-mmio"
	// BlockDriverNVDIMM is accepted by the schema but rejected on riscv64,
	// because the virt machine has no NVDIMM support.
	BlockDriverNVDIMM BlockDeviceDriver = "nvdimm"
)

// AgentChannel is the transport between the runtime and the agent.
type AgentChannel string

// Agent channels.
const (
	// ChannelAuto uses vsock when /dev/vhost-vsock is usable, else serial.
	ChannelAuto AgentChannel = "auto"
	// ChannelVsock uses vhost-vsock (QEMU) or hybrid vsock (Firecracker).
	ChannelVsock AgentChannel = "vsock"
	// ChannelSerial uses a virtio-serial port, for hosts without vhost-vsock.
	ChannelSerial AgentChannel = "serial"
)

// HypervisorConfig is the validated [hypervisor.<type>] section of
// configuration.toml. Paths are absolute, sizes are in MiB, and enumerated
// values hold one of their constants.
type HypervisorConfig struct {
	Type HypervisorType

	// Path is the VMM binary; JailerPath Firecracker's jailer, if used.
	Path       string
	JailerPath string

	// Guest assets. Exactly one of ImagePath and InitrdPath is set.
	KernelPath   string
	ImagePath    string
	InitrdPath   string
	FirmwarePath string
	RootfsType   string

	// KernelParams are the user's extra guest kernel parameters, appended
	// after the runtime's own so that they take priority.
	KernelParams []string

	MachineType         string
	MachineAccelerators string
	CPUFeatures         string
	Accelerator         Accelerator
	AIA                 AIAMode
	VirtioTransport     VirtioTransport

	// DefaultMaxVCPUs 0 means the host's hart count, capped at 512 (the
	// virt machine's limit); MaxMemoryMiB 0 means the host's memory.
	DefaultVCPUs    uint32
	DefaultMaxVCPUs uint32
	MemoryMiB       uint32
	MaxMemoryMiB    uint32
	MemorySlots     uint32
	MemoryOffsetMiB uint64
	EnableVirtioMem bool
	DefaultBridges  uint32

	SharedFS          SharedFSType
	VirtioFSDaemon    string
	VirtioFSCache     string
	VirtioFSCacheSize uint32
	VirtioFSExtraArgs []string
	Msize9p           uint32

	BlockDeviceDriver     BlockDeviceDriver
	BlockDeviceAIO        string
	DisableBlockDeviceUse bool
	DisableImageNvdimm    bool
	// ConvertRootfsDirectory lets a sandbox without a shared filesystem
	// copy a container's root filesystem directory into an ext4 image, which
	// reaches the guest as a block device (convert_rootfs_directory).
	ConvertRootfsDirectory bool

	UseLegacySerial      bool
	EnableIOMMU          bool
	PCIeRootPorts        uint32
	EntropySource        string
	GuestHookPath        string
	DisableNestingChecks bool
	DisableVhostNet      bool
	EnableDebug          bool

	// Annotation allow-lists, see enable_annotations and valid_*_paths.
	EnableAnnotations        []string
	ValidHypervisorPaths     []string
	ValidJailerPaths         []string
	ValidVirtioFSDaemonPaths []string
	ValidEntropySources      []string
}

// AgentConfig is the validated [agent.kata] section of configuration.toml.
type AgentConfig struct {
	EnableDebug         bool
	EnableTracing       bool
	DebugConsoleEnabled bool
	KernelModules       []string
	DialTimeout         time.Duration
	Channel             AgentChannel
}
