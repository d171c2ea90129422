package config

// The raw TOML schema: the keys this runtime reads, in upstream Kata's
// spelling. Numbers are int64 (default_vcpus float64, as upstream allows
// fractions) so that a negative or oversized value reaches validation and gets
// a message that names the allowed range instead of a decoder error.

type tomlFile struct {
	Hypervisor map[string]tomlHypervisor `toml:"hypervisor"`
	Agent      map[string]tomlAgent      `toml:"agent"`
	Runtime    tomlRuntime               `toml:"runtime"`
}

type tomlHypervisor struct {
	Path         string `toml:"path"`
	JailerPath   string `toml:"jailer_path"`
	Kernel       string `toml:"kernel"`
	Image        string `toml:"image"`
	Initrd       string `toml:"initrd"`
	Firmware     string `toml:"firmware"`
	RootfsType   string `toml:"rootfs_type"`
	KernelParams string `toml:"kernel_params"`
	MachineType  string `toml:"machine_type"`
	MachineAccel string `toml:"machine_accelerators"`
	CPUFeatures  string `toml:"cpu_features"`

	// riscv64 additions, [hypervisor.qemu] only.
	Accelerator     string `toml:"accelerator"`
	AIA             string `toml:"aia"`
	VirtioTransport string `toml:"virtio_transport"`

	DefaultVCPUs    float64 `toml:"default_vcpus"`
	DefaultMaxVCPUs int64   `toml:"default_maxvcpus"`
	DefaultMemory   int64   `toml:"default_memory"`
	DefaultMaxMem   int64   `toml:"default_maxmemory"`
	MemorySlots     int64   `toml:"memory_slots"`
	MemoryOffset    int64   `toml:"memory_offset"`
	EnableVirtioMem bool    `toml:"enable_virtio_mem"`
	DefaultBridges  int64   `toml:"default_bridges"`

	SharedFS          string   `toml:"shared_fs"`
	VirtioFSDaemon    string   `toml:"virtio_fs_daemon"`
	VirtioFSCache     string   `toml:"virtio_fs_cache"`
	VirtioFSCacheSize int64    `toml:"virtio_fs_cache_size"`
	VirtioFSExtraArgs []string `toml:"virtio_fs_extra_args"`
	Msize9p           int64    `toml:"msize_9p"`

	BlockDeviceDriver     string `toml:"block_device_driver"`
	BlockDeviceAIO        string `toml:"block_device_aio"`
	DisableBlockDeviceUse bool   `toml:"disable_block_device_use"`
	DisableImageNvdimm    bool   `toml:"disable_image_nvdimm"`

	// riscv64 addition, for sandboxes without a shared filesystem.
	ConvertRootfsDirectory bool `toml:"convert_rootfs_directory"`

	UseLegacySerial      bool   `toml:"use_legacy_serial"`
	EnableIOMMU          bool   `toml:"enable_iommu"`
	EnableIOMMUPlatform  bool   `toml:"enable_iommu_platform"`
	ConfidentialGuest    bool   `toml:"confidential_guest"`
	PCIeRootPort         int64  `toml:"pcie_root_port"`
	EntropySource        string `toml:"entropy_source"`
	GuestHookPath        string `toml:"guest_hook_path"`
	DisableNestingChecks bool   `toml:"disable_nesting_checks"`
	DisableVhostNet      bool   `toml:"disable_vhost_net"`
	EnableDebug          bool   `toml:"enable_debug"`

	EnableAnnotations        []string `toml:"enable_annotations"`
	ValidHypervisorPaths     []string `toml:"valid_hypervisor_paths"`
	ValidJailerPaths         []string `toml:"valid_jailer_paths"`
	ValidVirtioFSDaemonPaths []string `toml:"valid_virtio_fs_daemon_paths"`
	ValidEntropySources      []string `toml:"valid_entropy_sources"`
}

type tomlAgent struct {
	EnableDebug         bool     `toml:"enable_debug"`
	EnableTracing       bool     `toml:"enable_tracing"`
	KernelModules       []string `toml:"kernel_modules"`
	DebugConsoleEnabled bool     `toml:"debug_console_enabled"`
	DialTimeout         int64    `toml:"dial_timeout"`
	Channel             string   `toml:"channel"`
}

type tomlRuntime struct {
	EnableDebug               bool     `toml:"enable_debug"`
	EnableTracing             bool     `toml:"enable_tracing"`
	InternetworkingModel      string   `toml:"internetworking_model"`
	DisableGuestSeccomp       bool     `toml:"disable_guest_seccomp"`
	SandboxCgroupOnly         bool     `toml:"sandbox_cgroup_only"`
	StaticSandboxResourceMgmt bool     `toml:"static_sandbox_resource_mgmt"`
	DisableNewNetNs           bool     `toml:"disable_new_netns"`
	CreateContainerTimeout    int64    `toml:"create_container_timeout"`
	EnablePprof               bool     `toml:"enable_pprof"`
	Experimental              []string `toml:"experimental"`
	VfioMode                  string   `toml:"vfio_mode"`
	SandboxBindMounts         []string `toml:"sandbox_bind_mounts"`
	DisableGuestEmptyDir      bool     `toml:"disable_guest_empty_dir"`
	GuestSeLinuxLabel         string   `toml:"guest_selinux_label"`
}

// Keys that upstream Kata 4.x reads but this runtime ignores, with the
// reason given in the warning. Upstream configuration files carry them, and
// they must load. The warning is logged only when the value differs from both
// the zero value and upstream's default, so that an unchanged upstream file
// loads quietly.
const (
	reasonNotImplemented = "not implemented by kata-riscv64"
	reasonNoNVDIMM       = "the riscv64 virt machine has no NVDIMM, so the image is always a virtio-blk disk"
	reasonNoHotplug      = "the riscv64 virt machine has no CPU or memory hot-plug"
	reasonNoVFIO         = "the riscv64 virt machine has no vIOMMU, so VFIO passthrough is not offered"
	reasonNoCC           = "riscv64 has no confidential guest technology that Kata supports"
	reasonRuntimeRS      = "read only by upstream's runtime-rs"
)

var ignoredHypervisorKeys = map[string]string{
	"ctlpath":                                  reasonNotImplemented,
	"pflashes":                                 reasonNotImplemented,
	"valid_ctlpaths":                           reasonNotImplemented,
	"firmware_volume":                          "guests under KVM boot without firmware, and under TCG with OpenSBI from firmware",
	"seccompsandbox":                           reasonNotImplemented,
	"rootless":                                 reasonNotImplemented,
	"disable_seccomp":                          reasonNotImplemented,
	"disable_selinux":                          reasonNotImplemented,
	"disable_guest_selinux":                    reasonNotImplemented,
	"vhost_user_store_path":                    reasonNotImplemented,
	"valid_vhost_user_store_paths":             reasonNotImplemented,
	"enable_vhost_user_store":                  reasonNotImplemented,
	"vhost_user_reconnect_timeout_sec":         reasonNotImplemented,
	"file_mem_backend":                         reasonNotImplemented,
	"valid_file_mem_backends":                  reasonNotImplemented,
	"guest_memory_dump_path":                   reasonNotImplemented,
	"guest_memory_dump_paging":                 reasonNotImplemented,
	"rx_rate_limiter_max_rate":                 reasonNotImplemented,
	"tx_rate_limiter_max_rate":                 reasonNotImplemented,
	"disk_rate_limiter_bw_max_rate":            reasonNotImplemented,
	"disk_rate_limiter_bw_one_time_burst":      reasonNotImplemented,
	"disk_rate_limiter_ops_max_rate":           reasonNotImplemented,
	"disk_rate_limiter_ops_one_time_burst":     reasonNotImplemented,
	"net_rate_limiter_bw_max_rate":             reasonNotImplemented,
	"net_rate_limiter_bw_one_time_burst":       reasonNotImplemented,
	"net_rate_limiter_ops_max_rate":            reasonNotImplemented,
	"net_rate_limiter_ops_one_time_burst":      reasonNotImplemented,
	"block_device_cache_set":                   reasonNotImplemented,
	"block_device_cache_direct":                reasonNotImplemented,
	"block_device_cache_noflush":               reasonNotImplemented,
	"enable_iothreads":                         reasonNotImplemented,
	"indep_iothreads":                          reasonNotImplemented,
	"enable_mem_prealloc":                      reasonNotImplemented,
	"enable_hugepages":                         reasonNotImplemented,
	"reclaim_guest_freed_memory":               reasonNotImplemented,
	"enable_guest_swap":                        reasonNotImplemented,
	"virtio_fs_queue_size":                     reasonNotImplemented,
	"virtio_fs_inode_file_handles":             reasonNotImplemented,
	"hypervisor_loglevel":                      reasonNotImplemented,
	"extra_monitor_socket":                     reasonNotImplemented,
	"kernel_verity_params":                     reasonNotImplemented,
	"hotplug_vfio_on_root_bus":                 reasonNoVFIO,
	"hot_plug_vfio":                            reasonNoVFIO,
	"cold_plug_vfio":                           reasonNoVFIO,
	"pcie_switch_port":                         reasonNoVFIO,
	"sev_snp_guest":                            reasonNoCC,
	"tdx_quote_generation_service_socket_port": reasonNoCC,
	"remote_hypervisor_socket":                 reasonNotImplemented,
	"remote_hypervisor_timeout":                reasonNotImplemented,
	"numa":                                     reasonNotImplemented,
	"default_maxnumanodes":                     reasonNotImplemented,
}

var ignoredAgentKeys = map[string]string{
	"cdh_api_timeout":       reasonNoCC,
	"container_pipe_size":   reasonNotImplemented,
	"mem_agent_enable":      reasonRuntimeRS,
	"kernel_modules_params": reasonNotImplemented,
}

var ignoredRuntimeKeys = map[string]string{
	"jaeger_endpoint":      reasonNotImplemented,
	"jaeger_user":          reasonNotImplemented,
	"jaeger_password":      reasonNotImplemented,
	"enable_vcpus_pinning": reasonNotImplemented,
	"dan_conf":             reasonNotImplemented,
	"emptydir_mode":        reasonNotImplemented,
	"name":                 reasonRuntimeRS,
	"hypervisor_name":      reasonRuntimeRS,
	"agent_name":           reasonRuntimeRS,
}

// Whole sections that upstream reads and this runtime ignores.
var ignoredSections = map[string]string{
	"factory": "VM templating and VMCache are not implemented by kata-riscv64",
	"image":   reasonNotImplemented,
}

// Hypervisor sections that upstream Kata reads and this runtime does not drive.
var foreignHypervisors = map[string]bool{
	"clh": true, "dragonball": true, "stratovirt": true, "remote": true, "acrn": true,
}

// upstreamDefaults holds upstream's default of each ignored key whose default
// is not the zero value, formatted with fmt.Sprint as the decoded value is.
var upstreamDefaults = map[string]string{
	"disable_guest_selinux":        "true",
	"virtio_fs_queue_size":         "1024",
	"vhost_user_store_path":        "/var/run/kata-containers/vhost-user",
	"valid_vhost_user_store_paths": "[/var/run/kata-containers/vhost-user]",
	"valid_file_mem_backends":      "[]",
	"hot_plug_vfio":                "no-port",
	"cold_plug_vfio":               "no-port",
	"cdh_api_timeout":              "50",
	"template_path":                "/run/vc/vm/template",
	"vm_cache_endpoint":            "/var/run/kata-containers/cache.sock",
	"dan_conf":                     "/run/kata-containers/dans",
}
