package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configText builds a configuration file around the given section bodies.
// The hypervisor body gets kernel and image lines unless it sets its own.
func configText(hvType, hv, agent, runtime string) string {
	assets := ""
	if !strings.Contains(hv, "image") && !strings.Contains(hv, "initrd") {
		assets += "image = \"/i\"\n"
	}
	if !strings.Contains(hv, "kernel =") {
		assets += "kernel = \"/k\"\n"
	}
	return fmt.Sprintf("[hypervisor.%s]\n%s%s\n[agent.kata]\n%s\n[runtime]\n%s\n", hvType, assets, hv, agent, runtime)
}

func TestValidationRules(t *testing.T) {
	tests := []struct {
		name    string
		hvType  string // default qemu
		hv      string
		agent   string
		runtime string
		wantKey string // full key of the one expected problem; "" for none
		wantErr error
	}{
		{name: "minimal qemu", hv: ""},
		{name: "vcpus zero means default", hv: "default_vcpus = 0"},
		{name: "vcpus above virt limit", hv: "default_vcpus = 513", wantKey: "hypervisor.qemu.default_vcpus", wantErr: ErrInvalidValue},
		{name: "vcpus negative", hv: "default_vcpus = -1", wantKey: "hypervisor.qemu.default_vcpus", wantErr: ErrInvalidValue},
		{name: "vcpus fractional", hv: "default_vcpus = 1.5", wantKey: "hypervisor.qemu.default_vcpus", wantErr: ErrInvalidValue},
		{name: "vcpus above maxvcpus", hv: "default_vcpus = 4\ndefault_maxvcpus = 2", wantKey: "hypervisor.qemu.default_vcpus", wantErr: ErrInvalidValue},
		{name: "vcpus equal maxvcpus", hv: "default_vcpus = 2\ndefault_maxvcpus = 2"},
		{name: "maxvcpus above limit", hv: "default_maxvcpus = 600", wantKey: "hypervisor.qemu.default_maxvcpus", wantErr: ErrInvalidValue},
		{name: "memory too small", hv: "default_memory = 32", wantKey: "hypervisor.qemu.default_memory", wantErr: ErrInvalidValue},
		{name: "memory minimum", hv: "default_memory = 64"},
		{name: "memory above maxmemory", hv: "default_memory = 4096\ndefault_maxmemory = 2048", wantKey: "hypervisor.qemu.default_memory", wantErr: ErrInvalidValue},
		{name: "maxmemory too small", hv: "default_maxmemory = 32", wantKey: "hypervisor.qemu.default_maxmemory", wantErr: ErrInvalidValue},
		{name: "memory offset ignored", hv: "memory_offset = 1024"},
		{name: "dax window negative", hv: "virtio_fs_cache_size = -1", wantKey: "hypervisor.qemu.virtio_fs_cache_size", wantErr: ErrInvalidValue},
		{name: "memory slots negative", hv: "memory_slots = -1", wantKey: "hypervisor.qemu.memory_slots", wantErr: ErrInvalidValue},
		{name: "memory offset negative", hv: "memory_offset = -1", wantKey: "hypervisor.qemu.memory_offset", wantErr: ErrInvalidValue},
		{name: "bridges above 5", hv: "default_bridges = 6", wantKey: "hypervisor.qemu.default_bridges", wantErr: ErrInvalidValue},
		{name: "root ports above 16", hv: "pcie_root_port = 17", wantKey: "hypervisor.qemu.pcie_root_port", wantErr: ErrInvalidValue},
		{name: "msize too small", hv: "shared_fs = \"virtio-9p\"\nmsize_9p = 100", wantKey: "hypervisor.qemu.msize_9p", wantErr: ErrInvalidValue},
		{name: "machine type q35", hv: "machine_type = \"q35\"", wantKey: "hypervisor.qemu.machine_type", wantErr: ErrInvalidValue},
		{name: "accelerator tcg", hv: "accelerator = \"tcg\""},
		{name: "accelerator unknown", hv: "accelerator = \"hvf\"", wantKey: "hypervisor.qemu.accelerator", wantErr: ErrInvalidValue},
		{name: "aia aplic-imsic", hv: "aia = \"aplic-imsic\""},
		{name: "aia unknown", hv: "aia = \"imsic\"", wantKey: "hypervisor.qemu.aia", wantErr: ErrInvalidValue},
		{name: "transport mmio", hv: "virtio_transport = \"mmio\""},
		{name: "transport unknown", hv: "virtio_transport = \"ccw\"", wantKey: "hypervisor.qemu.virtio_transport", wantErr: ErrInvalidValue},
		{name: "shared fs unknown", hv: "shared_fs = \"nfs\"", wantKey: "hypervisor.qemu.shared_fs", wantErr: ErrInvalidValue},
		{name: "shared fs nydus", hv: "shared_fs = \"virtio-fs-nydus\"", wantKey: "hypervisor.qemu.shared_fs", wantErr: ErrUnsupported},
		{name: "shared fs none", hv: "shared_fs = \"none\""},
		{name: "virtiofs cache unknown", hv: "virtio_fs_cache = \"sometimes\"", wantKey: "hypervisor.qemu.virtio_fs_cache", wantErr: ErrInvalidValue},
		{name: "block driver nvdimm", hv: "block_device_driver = \"nvdimm\"", wantKey: "hypervisor.qemu.block_device_driver", wantErr: ErrUnsupported},
		{name: "block driver ccw", hv: "block_device_driver = \"virtio-blk-ccw\"", wantKey: "hypervisor.qemu.block_device_driver", wantErr: ErrUnsupported},
		{name: "block driver mmio on qemu", hv: "block_device_driver = \"virtio-mmio\"", wantKey: "hypervisor.qemu.block_device_driver", wantErr: ErrInvalidValue},
		{name: "block driver unknown", hv: "block_device_driver = \"ide\"", wantKey: "hypervisor.qemu.block_device_driver", wantErr: ErrInvalidValue},
		{name: "block driver scsi", hv: "block_device_driver = \"virtio-scsi\""},
		{name: "block aio unknown", hv: "block_device_aio = \"posix\"", wantKey: "hypervisor.qemu.block_device_aio", wantErr: ErrInvalidValue},
		{name: "rootfs type btrfs", hv: "rootfs_type = \"btrfs\"", wantKey: "hypervisor.qemu.rootfs_type", wantErr: ErrInvalidValue},
		{name: "iommu", hv: "enable_iommu = true", wantKey: "hypervisor.qemu.enable_iommu", wantErr: ErrUnsupported},
		{name: "iommu platform", hv: "enable_iommu_platform = true", wantKey: "hypervisor.qemu.enable_iommu_platform", wantErr: ErrUnsupported},
		{name: "iommu false", hv: "enable_iommu = false"},
		{name: "virtio-mem", hv: "enable_virtio_mem = true", wantKey: "hypervisor.qemu.enable_virtio_mem", wantErr: ErrUnsupported},
		{name: "confidential guest", hv: "confidential_guest = true", wantKey: "hypervisor.qemu.confidential_guest", wantErr: ErrUnsupported},
		{name: "firmware with kvm", hv: "firmware = \"/fw.bin\"", wantKey: "hypervisor.qemu.firmware", wantErr: ErrUnsupported},
		{name: "firmware with tcg", hv: "accelerator = \"tcg\"\nfirmware = \"/fw.bin\""},
		{name: "pmem root", hv: "kernel_params = \"quiet root=/dev/pmem0p1\"", wantKey: "hypervisor.qemu.kernel_params", wantErr: ErrUnsupported},
		{name: "machine option accel", hv: "machine_accelerators = \"usb=off,accel=tcg\"", wantKey: "hypervisor.qemu.machine_accelerators", wantErr: ErrInvalidValue},
		{name: "machine option aia", hv: "machine_accelerators = \"aia=aplic\"", wantKey: "hypervisor.qemu.machine_accelerators", wantErr: ErrInvalidValue},
		{name: "machine option nvdimm", hv: "machine_accelerators = \"nvdimm=on\"", wantKey: "hypervisor.qemu.machine_accelerators", wantErr: ErrUnsupported},
		{name: "annotation regexp invalid", hv: "enable_annotations = [\"kernel_params\", \"([\"]", wantKey: "hypervisor.qemu.enable_annotations", wantErr: ErrInvalidValue},
		{name: "annotation regexps valid", hv: "enable_annotations = [\"kernel_params\", \"virtio_fs_.*\"]"},
		{name: "glob invalid", hv: "valid_hypervisor_paths = [\"/usr/bin/[\"]", wantKey: "hypervisor.qemu.valid_hypervisor_paths", wantErr: ErrInvalidValue},
		{name: "glob relative", hv: "valid_virtio_fs_daemon_paths = [\"virtiofsd\"]", wantKey: "hypervisor.qemu.valid_virtio_fs_daemon_paths", wantErr: ErrInvalidValue},
		{name: "glob valid", hv: "valid_hypervisor_paths = [\"/usr/bin/qemu-system-*\"]"},
		{name: "image and initrd", hv: "image = \"/i\"\ninitrd = \"/r\"", wantKey: "hypervisor.qemu.initrd", wantErr: ErrInvalidValue},
		{name: "initrd only", hv: "initrd = \"/r\""},
		{name: "neither image nor initrd", hv: "image = \"\"", wantKey: "hypervisor.qemu.image", wantErr: ErrInvalidValue},
		{name: "kernel relative", hv: "kernel = \"vmlinux\"", wantKey: "hypervisor.qemu.kernel", wantErr: ErrInvalidValue},
		{name: "hook path relative", hv: "guest_hook_path = \"hooks\"", wantKey: "hypervisor.qemu.guest_hook_path", wantErr: ErrInvalidValue},
		{name: "entropy relative", hv: "entropy_source = \"urandom\"", wantKey: "hypervisor.qemu.entropy_source", wantErr: ErrInvalidValue},
		{name: "agent channel serial", agent: "channel = \"serial\""},
		{name: "agent channel unknown", agent: "channel = \"pipe\"", wantKey: "agent.kata.channel", wantErr: ErrInvalidValue},
		{name: "agent dial timeout negative", agent: "dial_timeout = -1", wantKey: "agent.kata.dial_timeout", wantErr: ErrInvalidValue},
		{name: "agent dial timeout in ms", agent: "dial_timeout = 45000", wantKey: "agent.kata.dial_timeout", wantErr: ErrInvalidValue},
		{name: "msize maximum", hv: "shared_fs = \"virtio-9p\"\nmsize_9p = 1048576"},
		{name: "agent empty module", agent: "kernel_modules = [\"\"]", wantKey: "agent.kata.kernel_modules", wantErr: ErrInvalidValue},
		{name: "runtime network unknown", runtime: "internetworking_model = \"bridge\"", wantKey: "runtime.internetworking_model", wantErr: ErrInvalidValue},
		{name: "runtime no netns with tcfilter", runtime: "disable_new_netns = true", wantKey: "runtime.disable_new_netns", wantErr: ErrInvalidValue},
		{name: "runtime no netns with none", runtime: "disable_new_netns = true\ninternetworking_model = \"none\""},
		{name: "runtime timeout negative", runtime: "create_container_timeout = -5", wantKey: "runtime.create_container_timeout", wantErr: ErrInvalidValue},
		{name: "runtime vfio mode unknown", runtime: "vfio_mode = \"x\"", wantKey: "runtime.vfio_mode", wantErr: ErrInvalidValue},
		{name: "runtime bind mount relative", runtime: "sandbox_bind_mounts = [\"data:ro\"]", wantKey: "runtime.sandbox_bind_mounts", wantErr: ErrInvalidValue},
		{name: "runtime bind mount absolute", runtime: "sandbox_bind_mounts = [\"/data:ro\"]"},
		{name: "fc minimal", hvType: "firecracker"},
		{name: "fc serial channel", hvType: "firecracker", agent: "channel = \"serial\"", wantKey: "agent.kata.channel", wantErr: ErrUnsupported},
		{name: "fc accelerator", hvType: "firecracker", hv: "accelerator = \"kvm\"", wantKey: "hypervisor.firecracker.accelerator", wantErr: ErrInvalidValue},
		{name: "fc aia", hvType: "firecracker", hv: "aia = \"auto\"", wantKey: "hypervisor.firecracker.aia", wantErr: ErrInvalidValue},
		{name: "fc virtio transport", hvType: "firecracker", hv: "virtio_transport = \"mmio\"", wantKey: "hypervisor.firecracker.virtio_transport", wantErr: ErrInvalidValue},
		{name: "fc jailer", hvType: "firecracker", hv: "jailer_path = \"/usr/bin/jailer\"\nvalid_jailer_paths = [\"/usr/bin/jailer\"]"},
		{name: "fc jailer relative", hvType: "firecracker", hv: "jailer_path = \"jailer\"", wantKey: "hypervisor.firecracker.jailer_path", wantErr: ErrInvalidValue},
		{name: "fc shared fs", hvType: "firecracker", hv: "shared_fs = \"virtio-fs\"", wantKey: "hypervisor.firecracker.shared_fs", wantErr: ErrUnsupported},
		{name: "fc block driver", hvType: "firecracker", hv: "block_device_driver = \"virtio-blk\"", wantKey: "hypervisor.firecracker.block_device_driver", wantErr: ErrInvalidValue},
		{name: "fc vcpus above 32", hvType: "firecracker", hv: "default_vcpus = 33", wantKey: "hypervisor.firecracker.default_vcpus", wantErr: ErrInvalidValue},
		{name: "fc convert rootfs directory", hvType: "firecracker", hv: "convert_rootfs_directory = true"},
		{name: "fc block devices disabled", hvType: "firecracker", hv: "disable_block_device_use = true", wantKey: "hypervisor.firecracker.disable_block_device_use", wantErr: ErrInvalidValue},
		{name: "fc convert rootfs misspelled", hvType: "firecracker", hv: "convert_rootfs_dir = true", wantKey: "hypervisor.firecracker.convert_rootfs_dir", wantErr: ErrUnknownKey},
		{name: "qemu convert rootfs without shared fs", hv: "shared_fs = \"none\"\nconvert_rootfs_directory = true"},
		{name: "clh section", hvType: "clh", wantKey: "hypervisor.clh", wantErr: ErrUnsupported},
		{name: "unknown hypervisor section", hvType: "bhyve", wantKey: "hypervisor.bhyve", wantErr: ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hvType := tt.hvType
			if hvType == "" {
				hvType = "qemu"
			}
			path := writeFile(t, t.TempDir(), "configuration.toml", configText(hvType, tt.hv, tt.agent, tt.runtime))
			l, _ := quietLoader(t.TempDir())
			l.Lenient = true

			_, err := l.LoadFile(path)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("LoadFile: %v, want success", err)
				}
				return
			}

			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if len(cerr.Problems) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(cerr.Problems), err)
			}
			p := cerr.Problems[0]
			if p.Key != tt.wantKey {
				t.Errorf("key = %q, want %q", p.Key, tt.wantKey)
			}
			if !errors.Is(p, tt.wantErr) {
				t.Errorf("problem %v is not %v", p, tt.wantErr)
			}
			if p.Line == 0 {
				t.Errorf("problem %v has no line", p)
			}
			if p.Fix == "" || p.Reason == "" {
				t.Errorf("problem %+v lacks a reason or a fix", p)
			}
		})
	}
}

func TestStructuralProblems(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		wantKey string
		wantErr error
	}{
		{"no hypervisor section", "[agent.kata]\n", "hypervisor", ErrInvalidValue},
		{"two hypervisors", "[hypervisor.qemu]\nimage = \"/i\"\n[hypervisor.firecracker]\nimage = \"/i\"\n", "hypervisor.qemu", ErrInvalidValue},
		{"second agent", "[hypervisor.qemu]\nimage = \"/i\"\n[agent.other]\n", "agent.other", ErrUnknownKey},
		{"top-level key", "debug = true\n[hypervisor.qemu]\nimage = \"/i\"\n", "debug", ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "configuration.toml", tt.text)
			l, _ := quietLoader(t.TempDir())
			l.Lenient = true

			_, err := l.LoadFile(path)
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			if p := cerr.Problems[0]; p.Key != tt.wantKey || !errors.Is(p, tt.wantErr) {
				t.Errorf("problem = %v (key %q), want key %q and %v", p, p.Key, tt.wantKey, tt.wantErr)
			}
		})
	}
}

func TestFileChecks(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, root, "/k", "/i", "/bin/qemu*", "/bin/noexec", "/usr/libexec/virtiofsd*")
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		hv         string
		wantKey    string
		wantReason string
	}{
		{"all present", "path = \"/bin/qemu\"", "", ""},
		{"kernel missing", "path = \"/bin/qemu\"\nkernel = \"/nokernel\"", "hypervisor.qemu.kernel", "file not found"},
		{"image is a directory", "path = \"/bin/qemu\"\nimage = \"/dir\"", "hypervisor.qemu.image", "is a directory"},
		{"initrd missing", "path = \"/bin/qemu\"\ninitrd = \"/noinitrd\"", "hypervisor.qemu.initrd", "file not found"},
		{"vmm not executable", "path = \"/bin/noexec\"", "hypervisor.qemu.path", "is not executable"},
		{"vmm missing", "path = \"/bin/none\"", "hypervisor.qemu.path", "file not found"},
		{"firmware missing", "path = \"/bin/qemu\"\naccelerator = \"tcg\"\nfirmware = \"/fw.bin\"", "hypervisor.qemu.firmware", "file not found"},
		{"virtiofsd missing", "path = \"/bin/qemu\"\nvirtio_fs_daemon = \"/bin/virtiofsd\"", "hypervisor.qemu.virtio_fs_daemon", "file not found"},
		{"9p needs no virtiofsd", "path = \"/bin/qemu\"\nshared_fs = \"virtio-9p\"\nvirtio_fs_daemon = \"/bin/virtiofsd\"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "configuration.toml", configText("qemu", tt.hv, "", ""))
			strict, _ := quietLoader(root)
			lenient := strict
			lenient.Lenient = true

			_, err := strict.LoadFile(path)
			c, lerr := lenient.LoadFile(path)
			if lerr != nil {
				t.Fatalf("lenient LoadFile: %v", lerr)
			}
			if tt.wantKey == "" {
				if err != nil || len(c.MissingFiles) != 0 {
					t.Fatalf("strict error %v, lenient MissingFiles %v; want neither", err, c.MissingFiles)
				}
				return
			}

			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
				t.Fatalf("strict err = %v, want one problem", err)
			}
			if p := cerr.Problems[0]; p.Key != tt.wantKey || !strings.Contains(p.Reason, tt.wantReason) || !errors.Is(p, ErrMissingFile) {
				t.Errorf("strict problem = %v, want %s: %s", p, tt.wantKey, tt.wantReason)
			}
			if len(c.MissingFiles) != 1 || c.MissingFiles[0].Key != tt.wantKey {
				t.Errorf("lenient MissingFiles = %v, want one for %s", c.MissingFiles, tt.wantKey)
			}
		})
	}
}

func TestScanKeyLines(t *testing.T) {
	text := `# comment
top = 1

[hypervisor.qemu]
path = "/usr/bin/qemu" # trailing comment with = sign
kernel_params = """
fake = 2
"""
enable_annotations = [
  "a",
  "b = c",
]
"quoted key" = 'x'
dotted.key = 3
  indented = "[not a table]"

[ "agent" . kata ]
dial_timeout = 45
inline = { a = 1, b = [
  2 ] }
after_inline = true
`
	kl := scanKeyLines([]byte(text))
	tests := []struct {
		key  string
		want int
	}{
		{"top", 2},
		{"hypervisor.qemu", 4},
		{"hypervisor.qemu.path", 5},
		{"hypervisor.qemu.kernel_params", 6},
		{"hypervisor.qemu.enable_annotations", 9},
		{"hypervisor.qemu.quoted key", 13},
		{"hypervisor.qemu.dotted.key", 14},
		{"hypervisor.qemu.indented", 15},
		{"agent.kata", 17},
		{"agent.kata.dial_timeout", 18},
		{"agent.kata.inline.a", 19},
		{"agent.kata.after_inline", 21},
	}
	for _, tt := range tests {
		if got := kl.line(tt.key); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	if n, ok := kl["hypervisor.qemu.fake"]; ok {
		t.Errorf("a line inside a multi-line string was taken as key fake at line %d", n)
	}
}
