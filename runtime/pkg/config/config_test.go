package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// shippedDir holds the configuration files the project installs.
const shippedDir = "../../../configs"

// quietLoader returns a loader whose warnings go to a test hook.
func quietLoader(root string) (Loader, *logtest.Hook) {
	logger, hook := logtest.NewNullLogger()
	return Loader{Root: root, Log: logrus.NewEntry(logger), Getenv: func(string) string { return "" }}, hook
}

// makeFiles creates each path under root; paths ending in "*" become
// executables (the "*" is dropped).
func makeFiles(t *testing.T, root string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "*") {
			p, mode = strings.TrimSuffix(p, "*"), 0o755
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// qemuAssets and fcAssets are the files the shipped configurations name.
var (
	qemuAssets = []string{
		"/usr/bin/qemu-system-riscv64*",
		"/usr/libexec/virtiofsd*",
		"/usr/share/kata-containers/vmlinux.container",
		"/usr/share/kata-containers/kata-containers.img",
	}
	fcAssets = []string{
		"/usr/bin/firecracker*",
		"/usr/bin/jailer*",
		"/usr/share/kata-containers/vmlinux.container",
		"/usr/share/kata-containers/kata-containers.img",
	}
)

func TestShippedConfigsStrict(t *testing.T) {
	tests := []struct {
		file   string
		assets []string
		check  func(t *testing.T, c *Config)
	}{
		{"configuration-qemu.toml", qemuAssets, func(t *testing.T, c *Config) {
			h := c.Hypervisor
			if c.HypervisorType != vc.QemuHypervisor {
				t.Errorf("HypervisorType = %q, want qemu", c.HypervisorType)
			}
			if h.Accelerator != vc.AccelKVM || h.AIA != vc.AIAAuto || h.VirtioTransport != vc.VirtioPCI {
				t.Errorf("accelerator, aia, transport = %q, %q, %q; want kvm, auto, pci", h.Accelerator, h.AIA, h.VirtioTransport)
			}
			if h.SharedFS != vc.SharedFSVirtioFS || h.VirtioFSDaemon != "/usr/libexec/virtiofsd" {
				t.Errorf("shared fs = %q with %q, want virtio-fs with /usr/libexec/virtiofsd", h.SharedFS, h.VirtioFSDaemon)
			}
			if h.MachineType != "virt" {
				t.Errorf("MachineType = %q, want virt", h.MachineType)
			}
			if h.FirmwarePath != "" {
				t.Errorf("FirmwarePath = %q, want none under KVM", h.FirmwarePath)
			}
		}},
		{"configuration-fc.toml", fcAssets, func(t *testing.T, c *Config) {
			h := c.Hypervisor
			if c.HypervisorType != vc.FirecrackerHypervisor {
				t.Errorf("HypervisorType = %q, want firecracker", c.HypervisorType)
			}
			if h.BlockDeviceDriver != vc.BlockDriverVirtioMMIO || h.VirtioTransport != vc.VirtioMMIO {
				t.Errorf("block driver, transport = %q, %q; want virtio-mmio, mmio", h.BlockDeviceDriver, h.VirtioTransport)
			}
			if h.JailerPath != "/usr/bin/jailer" || len(h.ValidJailerPaths) != 1 {
				t.Errorf("jailer = %q, valid %v; want /usr/bin/jailer and one valid path", h.JailerPath, h.ValidJailerPaths)
			}
			if h.SharedFS != vc.SharedFSNone {
				t.Errorf("SharedFS = %q, want none", h.SharedFS)
			}
			if h.ConvertRootfsDirectory {
				t.Error("ConvertRootfsDirectory = true, want the shipped default false")
			}
			if h.DisableBlockDeviceUse {
				t.Error("DisableBlockDeviceUse = true, want false: Firecracker containers need block devices")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			root := t.TempDir()
			makeFiles(t, root, tt.assets...)
			l, hook := quietLoader(root)

			c, err := l.LoadFile(filepath.Join(shippedDir, tt.file))
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			for _, e := range hook.AllEntries() {
				t.Errorf("unexpected warning for a shipped file: %s", e.Message)
			}

			h := c.Hypervisor
			if h.ImagePath != DefaultImagePath || h.InitrdPath != "" {
				t.Errorf("image, initrd = %q, %q; want %q and none", h.ImagePath, h.InitrdPath, DefaultImagePath)
			}
			if h.KernelPath != DefaultKernelPath {
				t.Errorf("KernelPath = %q, want %q", h.KernelPath, DefaultKernelPath)
			}
			if !h.DisableImageNvdimm {
				t.Error("DisableImageNvdimm = false, want true")
			}
			for _, p := range h.KernelParams {
				if strings.HasPrefix(p, "root=/dev/pmem") {
					t.Errorf("kernel params contain %q", p)
				}
			}
			if !c.Runtime.StaticSandboxResourceMgmt {
				t.Error("StaticSandboxResourceMgmt = false, want true")
			}
			if c.Agent.DialTimeout != 45*time.Second {
				t.Errorf("DialTimeout = %v, want 45s", c.Agent.DialTimeout)
			}
			if c.Agent.Channel != vc.ChannelAuto {
				t.Errorf("Channel = %q, want auto", c.Agent.Channel)
			}
			if h.DefaultVCPUs != 1 || h.MemoryMiB != 2048 {
				t.Errorf("vcpus, memory = %d, %d; want 1, 2048", h.DefaultVCPUs, h.MemoryMiB)
			}
			if len(c.MissingFiles) != 0 {
				t.Errorf("MissingFiles = %v, want none", c.MissingFiles)
			}
			tt.check(t, c)
		})
	}
}

func TestShippedConfigsLenient(t *testing.T) {
	tests := []struct {
		file        string
		wantMissing []string // in file order
	}{
		{"configuration-qemu.toml", []string{"path", "kernel", "image", "virtio_fs_daemon"}},
		{"configuration-fc.toml", []string{"path", "jailer_path", "kernel", "image"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			l, _ := quietLoader(t.TempDir())
			l.Lenient = true

			c, err := l.LoadFile(filepath.Join(shippedDir, tt.file))
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			var got []string
			for _, p := range c.MissingFiles {
				if !errors.Is(p, ErrMissingFile) {
					t.Errorf("MissingFiles holds %v, which is not ErrMissingFile", p)
				}
				if p.Line == 0 {
					t.Errorf("problem %v has no line", p)
				}
				got = append(got, p.Key[strings.LastIndexByte(p.Key, '.')+1:])
			}
			if strings.Join(got, ",") != strings.Join(tt.wantMissing, ",") {
				t.Errorf("missing keys = %v, want %v", got, tt.wantMissing)
			}
		})
	}
}

func TestShippedConfigStrictFailsOnMissingKernel(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, root, "/usr/bin/qemu-system-riscv64*", "/usr/libexec/virtiofsd*", "/usr/share/kata-containers/kata-containers.img")
	l, _ := quietLoader(root)

	_, err := l.LoadFile(filepath.Join(shippedDir, "configuration-qemu.toml"))
	if !errors.Is(err, ErrMissingFile) {
		t.Fatalf("err = %v, want ErrMissingFile", err)
	}
	var cerr *Error
	if !errors.As(err, &cerr) || len(cerr.Problems) != 1 {
		t.Fatalf("err = %v, want one problem", err)
	}
	if p := cerr.Problems[0]; p.Key != "hypervisor.qemu.kernel" || p.Value != `"`+DefaultKernelPath+`"` || p.Fix == "" {
		t.Errorf("problem = %+v, want the kernel key with its value and a fix", p)
	}
}

func TestMalformedConfigNamesFileLineKeyFix(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{
			name: "misspelled key",
			text: "[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-riscv64\"\nimage = \"/i\"\n\ndefault_memroy = 512\n",
			want: []string{"configuration.toml:5:", "hypervisor.qemu.default_memroy", "unknown key", `fix: remove it or correct its spelling (did you mean "default_memory"?)`},
		},
		{
			name: "syntax error",
			text: "[hypervisor.qemu]\nimage = \"/i\"\nkernel = /boot/vmlinux\n",
			want: []string{"configuration.toml:3:", "hypervisor.qemu.kernel", "fix: correct the TOML syntax"},
		},
		{
			name: "unknown section",
			text: "[hypervisor.qemu]\nimage = \"/i\"\n\n[agent.kata]\n[hypervisr]\nx = 1\n",
			want: []string{"configuration.toml:5:", "hypervisr", "unknown section", "fix:"},
		},
		{
			name: "wrong type",
			text: "[hypervisor.qemu]\nimage = \"/i\"\ndefault_vcpus = \"two\"\n",
			want: []string{"configuration.toml:3:", "hypervisor.qemu.default_vcpus", "incompatible types", "fix: give the key a value of the TOML type"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")), "configuration.toml", tt.text)
			l, _ := quietLoader(t.TempDir())
			l.Lenient = true

			_, err := l.LoadFile(path)
			if err == nil {
				t.Fatal("LoadFile succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
		})
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	text := `[hypervisor.qemu]
image = "/i"
initrd = "/r"
default_vcpus = 1000
enable_iommu = true
bogus = 1

[agent.kata]
channel = "pipe"
`
	path := writeFile(t, t.TempDir(), "configuration.toml", text)
	l, _ := quietLoader(t.TempDir())
	l.Lenient = true

	_, err := l.LoadFile(path)
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want *Error", err)
	}
	wantKeys := map[string]int{
		"hypervisor.qemu.initrd":        3,
		"hypervisor.qemu.default_vcpus": 4,
		"hypervisor.qemu.enable_iommu":  5,
		"hypervisor.qemu.bogus":         6,
		"agent.kata.channel":            9,
	}
	for _, p := range cerr.Problems {
		line, ok := wantKeys[p.Key]
		if !ok {
			t.Errorf("unexpected problem %v", p)
			continue
		}
		if p.Line != line {
			t.Errorf("%s: line = %d, want %d", p.Key, p.Line, line)
		}
		delete(wantKeys, p.Key)
	}
	for k := range wantKeys {
		t.Errorf("no problem reported for %s", k)
	}
}

func TestUpstreamKeysIgnoredWithWarning(t *testing.T) {
	text := `[hypervisor.qemu]
path = "/usr/bin/qemu-system-riscv64"
kernel = "/usr/share/kata-containers/vmlinux.container"
image = "/usr/share/kata-containers/kata-containers.img"
machine_type = "virt"
disable_image_nvdimm = false
enable_hugepages = false
enable_iothreads = false
pflashes = []
hot_plug_vfio = "root-port"
rootless = false
disable_selinux = false

[factory]
enable_template = false
template_path = "/tmp/template"

[agent.kata]
dial_timeout = 45
cdh_api_timeout = 60

[runtime]
static_sandbox_resource_mgmt = false
jaeger_endpoint = ""
`
	path := writeFile(t, t.TempDir(), "configuration.toml", text)
	l, hook := quietLoader(t.TempDir())
	l.Lenient = true

	c, err := l.LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if !c.Hypervisor.DisableImageNvdimm || !c.Runtime.StaticSandboxResourceMgmt {
		t.Errorf("DisableImageNvdimm, StaticSandboxResourceMgmt = %v, %v; want both forced true",
			c.Hypervisor.DisableImageNvdimm, c.Runtime.StaticSandboxResourceMgmt)
	}

	got := map[string]int{}
	for _, e := range hook.AllEntries() {
		if e.Level != logrus.WarnLevel {
			t.Errorf("entry %q at level %v, want warn", e.Message, e.Level)
		}
		key, _ := e.Data["key"].(string)
		line, _ := e.Data["line"].(int)
		got[key] = line
	}
	want := map[string]int{
		"hypervisor.qemu.disable_image_nvdimm": 6,
		"hypervisor.qemu.hot_plug_vfio":        10,
		"factory.template_path":                16,
		"agent.kata.cdh_api_timeout":           20,
		"runtime.static_sandbox_resource_mgmt": 23,
	}
	for k, line := range want {
		if got[k] != line {
			t.Errorf("warning for %s at line %d, want line %d (warnings: %v)", k, got[k], line, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("warned about %v, want exactly %v (zero values and upstream defaults stay quiet)", got, want)
	}
}

func TestFind(t *testing.T) {
	const (
		etc   = "/etc/kata-containers/configuration.toml"
		share = "/usr/share/defaults/kata-containers/configuration.toml"
	)
	tests := []struct {
		name     string
		files    []string // created under root
		explicit string   // relative to root, "" for none
		env      string   // relative to root, "" for unset
		want     string   // relative to root
		wantErr  error
	}{
		{name: "explicit wins", files: []string{etc, share, "/x.toml", "/env.toml"}, explicit: "/x.toml", env: "/env.toml", want: "/x.toml"},
		{name: "env before defaults", files: []string{etc, share, "/env.toml"}, env: "/env.toml", want: "/env.toml"},
		{name: "etc before share", files: []string{etc, share}, want: etc},
		{name: "share last", files: []string{share}, want: share},
		{name: "none found", wantErr: ErrNotFound},
		{name: "explicit missing", files: []string{etc}, explicit: "/x.toml", wantErr: os.ErrNotExist},
		{name: "env missing", files: []string{etc}, env: "/env.toml", wantErr: os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			makeFiles(t, root, tt.files...)
			l := Loader{Root: root, Getenv: func(k string) string {
				if k == EnvConfFile && tt.env != "" {
					return filepath.Join(root, tt.env)
				}
				return ""
			}}
			explicit := ""
			if tt.explicit != "" {
				explicit = filepath.Join(root, tt.explicit)
			}

			got, err := l.Find(explicit)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Find = %q, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if want := filepath.Join(root, tt.want); got != want {
				t.Errorf("Find = %q, want %q", got, want)
			}
		})
	}
}

func TestLoadUsesLookupOrder(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, root, qemuAssets...)
	shipped, err := os.ReadFile(filepath.Join(shippedDir, "configuration-qemu.toml"))
	if err != nil {
		t.Fatal(err)
	}
	etc := writeFile(t, root, "etc/kata-containers/configuration.toml", strings.Replace(string(shipped), "default_memory = 2048", "default_memory = 1024", 1))
	writeFile(t, root, "usr/share/defaults/kata-containers/configuration.toml", string(shipped))
	l, _ := quietLoader(root)

	c, err := l.Load("")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Path != etc || c.Hypervisor.MemoryMiB != 1024 {
		t.Errorf("Load read %s with %d MiB, want %s with 1024 MiB", c.Path, c.Hypervisor.MemoryMiB, etc)
	}
}

func TestUpstreamRiscv64ConfigLoads(t *testing.T) {
	root := t.TempDir()
	makeFiles(t, root, qemuAssets...)
	l, hook := quietLoader(root)

	c, err := l.LoadFile("testdata/upstream-qemu-riscv64.toml")
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if c.Hypervisor.BlockDeviceDriver != vc.BlockDriverVirtioSCSI {
		t.Errorf("BlockDeviceDriver = %q, want virtio-scsi as the file sets", c.Hypervisor.BlockDeviceDriver)
	}
	if !c.Hypervisor.DisableImageNvdimm || !c.Runtime.StaticSandboxResourceMgmt {
		t.Error("NVDIMM or hot-plug left enabled, want both overridden on riscv64")
	}

	var warned []string
	for _, e := range hook.AllEntries() {
		warned = append(warned, e.Data["key"].(string))
	}
	want := "hypervisor.qemu.disable_image_nvdimm,runtime.static_sandbox_resource_mgmt"
	if strings.Join(warned, ",") != want {
		t.Errorf("warned about %v, want %s", warned, want)
	}
}

func TestConvertRootfsDirectory(t *testing.T) {
	tests := []struct {
		name     string
		hvType   string
		hv       string
		want     bool
		wantWarn bool
	}{
		{name: "firecracker default", hvType: "firecracker"},
		{name: "firecracker enabled", hvType: "firecracker", hv: "convert_rootfs_directory = true", want: true},
		{name: "qemu without shared fs", hvType: "qemu", hv: "shared_fs = \"none\"\nconvert_rootfs_directory = true", want: true},
		{name: "qemu with virtio-9p", hvType: "qemu", hv: "shared_fs = \"virtio-9p\"\nconvert_rootfs_directory = true", want: true, wantWarn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "configuration.toml", configText(tt.hvType, tt.hv, "", ""))
			l, hook := quietLoader(t.TempDir())
			l.Lenient = true

			c, err := l.LoadFile(path)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if c.Hypervisor.ConvertRootfsDirectory != tt.want {
				t.Errorf("ConvertRootfsDirectory = %v, want %v", c.Hypervisor.ConvertRootfsDirectory, tt.want)
			}
			warned := false
			for _, e := range hook.AllEntries() {
				if e.Data["key"] == "hypervisor.qemu.convert_rootfs_directory" {
					warned = true
				}
			}
			if warned != tt.wantWarn {
				t.Errorf("warned that convert_rootfs_directory is ignored: %v, want %v", warned, tt.wantWarn)
			}
		})
	}
}

// BenchmarkLoadShippedQEMU measures a strict load of the shipped QEMU
// configuration, which the shim does once per sandbox.
func BenchmarkLoadShippedQEMU(b *testing.B) {
	root := b.TempDir()
	for _, p := range qemuAssets {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "*") {
			p, mode = strings.TrimSuffix(p, "*"), 0o755
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(full, nil, mode); err != nil {
			b.Fatal(err)
		}
	}
	l := Loader{Root: root, Getenv: func(string) string { return "" }}
	path := filepath.Join(shippedDir, "configuration-qemu.toml")

	for b.Loop() {
		if _, err := l.LoadFile(path); err != nil {
			b.Fatal(err)
		}
	}
}
