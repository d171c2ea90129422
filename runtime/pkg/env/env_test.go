package env

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// cpuinfo samples in the layouts riscv64 kernels print.
const (
	// A QEMU virt guest with the H extension, two harts, "hart isa" lines.
	cpuinfoQEMUWithH = "processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_sstc\nmmu\t\t: sv57\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\nhart isa\t: rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_sstc\n\n" +
		"processor\t: 1\nhart\t\t: 1\nisa\t\t: rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_sstc\nmmu\t\t: sv57\nmvendorid\t: 0x0\nmarchid\t\t: 0x0\nmimpid\t\t: 0x0\nhart isa\t: rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_sstc\n"
	// A JH7110 board: no H, although zihpm contains an h; processor 0 is hart 3.
	cpuinfoJH7110 = "processor\t: 0\nhart\t\t: 3\nisa\t\t: rv64imafdc_zicntr_zicsr_zifencei_zihpm_zba_zbb\nmmu\t\t: sv39\nuarch\t\t: sifive,u74-mc\nmvendorid\t: 0x489\nmarchid\t\t: 0x8000000000000007\nmimpid\t\t: 0x4210427\n"
	// An old kernel: no processor lines, spaces before the colon, no final newline.
	cpuinfoOldKernel = "hart    : 1\nisa     : rv64imafdc\nmmu     : sv39\nuarch   : sifive,u54-mc\n\nhart    : 2\nisa     : rv64imafdc\nmmu     : sv39\nuarch   : sifive,u54-mc"
)

// An x86_64 /proc/cpuinfo, as on a build host.
const cpuinfoX86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme\n"

const meminfo = "MemTotal:        8000000 kB\nMemFree:         6000000 kB\nMemAvailable:    7000000 kB\nBuffers:            1000 kB\n"

// fakeRoot builds a host tree with the given cpuinfo and device nodes
// (plain files stand in for them).
func fakeRoot(t *testing.T, cpuinfo string, devices ...string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"proc/cpuinfo":              cpuinfo,
		"proc/meminfo":              meminfo,
		"proc/sys/kernel/osrelease": "6.12.43-riscv64\n",
		"etc/os-release":            "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nID=debian\n",
	}
	for _, d := range devices {
		files[strings.TrimPrefix(d, "/")] = ""
	}
	for name, text := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func testConfig() *config.Config {
	return &config.Config{
		Path:           "/etc/kata-containers/configuration.toml",
		HypervisorType: vc.QemuHypervisor,
		Hypervisor: vc.HypervisorConfig{
			Type:              vc.QemuHypervisor,
			Path:              "/usr/bin/qemu-system-riscv64",
			KernelPath:        "/usr/share/kata-containers/vmlinux.container",
			ImagePath:         "/usr/share/kata-containers/kata-containers.img",
			KernelParams:      []string{"quiet", "console=hvc0"},
			MachineType:       "virt",
			Accelerator:       vc.AccelKVM,
			AIA:               vc.AIAAuto,
			VirtioTransport:   vc.VirtioPCI,
			SharedFS:          vc.SharedFSVirtioFS,
			VirtioFSDaemon:    "/usr/libexec/virtiofsd",
			BlockDeviceDriver: vc.BlockDriverVirtioBlk,
			MemorySlots:       10,
			EntropySource:     "/dev/urandom",
			EnableAnnotations: []string{"kernel_params"},
		},
		Agent:   vc.AgentConfig{EnableDebug: true, DialTimeout: 45 * time.Second, Channel: vc.ChannelAuto},
		Runtime: config.RuntimeConfig{DisableGuestSeccomp: true, StaticSandboxResourceMgmt: true},
	}
}

func gather(t *testing.T, root, arch string) (*Info, *logtest.Hook) {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	info := Gather(Options{
		Config:      testConfig(),
		Root:        root,
		Arch:        arch,
		RuntimePath: "/usr/bin/kata-runtime",
		Version:     "0.1.0",
		Commit:      "abc123",
		HypervisorVersion: func(path string) (string, error) {
			if path != "/usr/bin/qemu-system-riscv64" {
				t.Errorf("version requested for %q", path)
			}
			return "QEMU emulator version 7.2.22", nil
		},
		Log: logrus.NewEntry(logger),
	})
	return info, hook
}

func TestGatherHostCPU(t *testing.T) {
	tests := []struct {
		name        string
		cpuinfo     string
		devices     []string
		wantCPU     CPUInfo
		wantCapable bool
		wantVsock   bool
	}{
		{
			name:        "qemu guest with H and kvm",
			cpuinfo:     cpuinfoQEMUWithH,
			devices:     []string{"/dev/kvm", "/dev/vhost-vsock"},
			wantCPU:     CPUInfo{Vendor: "unknown (0x0: not implemented, as on QEMU)", Model: "0x0", CPUs: 2, ISA: "rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_sstc", MMU: "sv57", HExtension: true, Extensions: []string{"Sstc"}},
			wantCapable: true,
			wantVsock:   true,
		},
		{
			name:    "H without /dev/kvm",
			cpuinfo: cpuinfoQEMUWithH,
			wantCPU: CPUInfo{Vendor: "unknown (0x0: not implemented, as on QEMU)", Model: "0x0", CPUs: 2, ISA: "rv64imafdch_zicbom_zicntr_zicsr_zifencei_zihpm_sstc", MMU: "sv57", HExtension: true, Extensions: []string{"Sstc"}},
		},
		{
			name:    "jh7110 without H",
			cpuinfo: cpuinfoJH7110,
			devices: []string{"/dev/kvm"},
			wantCPU: CPUInfo{Vendor: "SiFive", Model: "sifive,u74-mc", CPUs: 1, ISA: "rv64imafdc_zicntr_zicsr_zifencei_zihpm_zba_zbb", MMU: "sv39", Extensions: []string{}},
		},
		{
			name:    "old kernel layout",
			cpuinfo: cpuinfoOldKernel,
			wantCPU: CPUInfo{Model: "sifive,u54-mc", CPUs: 2, ISA: "rv64imafdc", MMU: "sv39", Extensions: []string{}},
		},
		{
			name:    "x86 build host",
			cpuinfo: cpuinfoX86,
			devices: []string{"/dev/kvm"},
			wantCPU: CPUInfo{Vendor: "AuthenticAMD", Model: "AMD EPYC", CPUs: 2, Extensions: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, _ := gather(t, fakeRoot(t, tt.cpuinfo, tt.devices...), "riscv64")

			if !reflect.DeepEqual(info.Host.CPU, tt.wantCPU) {
				t.Errorf("CPU = %+v, want %+v", info.Host.CPU, tt.wantCPU)
			}
			if info.Host.VMContainerCapable != tt.wantCapable {
				t.Errorf("VMContainerCapable = %v, want %v", info.Host.VMContainerCapable, tt.wantCapable)
			}
			if info.Host.SupportVSocks != tt.wantVsock {
				t.Errorf("SupportVSocks = %v, want %v", info.Host.SupportVSocks, tt.wantVsock)
			}
		})
	}
}

func TestGatherNotCapableOnOtherArch(t *testing.T) {
	info, _ := gather(t, fakeRoot(t, cpuinfoQEMUWithH, "/dev/kvm"), "amd64")
	if info.Host.VMContainerCapable {
		t.Error("VMContainerCapable = true for an amd64 host, want false")
	}
	if info.Host.Architecture != "amd64" {
		t.Errorf("Architecture = %q, want amd64", info.Host.Architecture)
	}
}

func TestGatherHostFacts(t *testing.T) {
	info, hook := gather(t, fakeRoot(t, cpuinfoJH7110), "riscv64")

	if got, want := info.Host.Memory, (MemoryInfo{Total: 8000000, Free: 6000000, Available: 7000000}); got != want {
		t.Errorf("Memory = %+v, want %+v", got, want)
	}
	if got, want := info.Host.Distro, (DistroInfo{Name: "Debian GNU/Linux", Version: "13"}); got != want {
		t.Errorf("Distro = %+v, want %+v", got, want)
	}
	if info.Host.Kernel != "6.12.43-riscv64" {
		t.Errorf("Kernel = %q, want 6.12.43-riscv64", info.Host.Kernel)
	}
	if info.Hypervisor.Version != "QEMU emulator version 7.2.22" {
		t.Errorf("Hypervisor.Version = %q", info.Hypervisor.Version)
	}
	if info.Kernel.Parameters != "quiet console=hvc0" {
		t.Errorf("Kernel.Parameters = %q, want %q", info.Kernel.Parameters, "quiet console=hvc0")
	}
	want := VersionInfo{Semver: "0.1.0", Commit: "abc123", Major: 0, Minor: 1, Patch: 0}
	if info.Runtime.Version.Version != want {
		t.Errorf("Runtime.Version.Version = %+v, want %+v", info.Runtime.Version.Version, want)
	}
	for _, e := range hook.AllEntries() {
		t.Errorf("unexpected log entry: %s", e.Message)
	}
}

func TestGatherSurvivesEmptyRoot(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	info := Gather(Options{
		Config:            testConfig(),
		Root:              t.TempDir(),
		HypervisorVersion: func(string) (string, error) { return "", errors.New("not installed") },
		Log:               logrus.NewEntry(logger),
	})
	if info.Hypervisor.Version != "unknown" {
		t.Errorf("Hypervisor.Version = %q, want unknown", info.Hypervisor.Version)
	}
	if len(hook.AllEntries()) == 0 {
		t.Error("nothing logged about the unreadable host facts")
	}
}

// upstreamKeys lists the sections and keys of upstream's kata-env output
// (format 1.0.27) that tools read.
var upstreamKeys = map[string][]string{
	"Kernel":                  {"Path", "Parameters"},
	"Meta":                    {"Version"},
	"Image":                   {"Path"},
	"Initrd":                  {"Path"},
	"Hypervisor":              {"MachineType", "Version", "Path", "BlockDeviceDriver", "EntropySource", "SharedFS", "VirtioFSDaemon", "SocketPath", "Msize9p", "MemorySlots", "HotPlugVFIO", "ColdPlugVFIO", "PCIeRootPort", "PCIeSwitchPort", "Debug"},
	"Hypervisor.SecurityInfo": {"Rootless", "DisableSeccomp", "GuestHookPath", "EnableAnnotations", "ConfidentialGuest"},
	"Runtime":                 {"Path", "GuestSeLinuxLabel", "Experimental", "Debug", "Trace", "DisableGuestSeccomp", "DisableNewNetNs", "SandboxCgroupOnly"},
	"Runtime.Config":          {"Path"},
	"Runtime.Version":         {"OCI"},
	"Runtime.Version.Version": {"Semver", "Commit", "Major", "Minor", "Patch"},
	"Host":                    {"AvailableGuestProtections", "Kernel", "Architecture", "VMContainerCapable", "SupportVSocks"},
	"Host.Distro":             {"Name", "Version"},
	"Host.CPU":                {"Vendor", "Model", "CPUs"},
	"Host.Memory":             {"Total", "Free", "Available"},
	"Agent":                   {"Debug", "Trace"},
}

func lookup(m map[string]any, dotted string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(dotted, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestOutputHasUpstreamKeys(t *testing.T) {
	info, _ := gather(t, fakeRoot(t, cpuinfoQEMUWithH, "/dev/kvm"), "riscv64")

	var tomlOut, jsonOut bytes.Buffer
	if err := WriteTOML(&tomlOut, info); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&jsonOut, info); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(tomlOut.Bytes(), []byte("\n")) {
		t.Error("TOML output does not end with a newline")
	}

	var fromTOML, fromJSON map[string]any
	if _, err := toml.Decode(tomlOut.String(), &fromTOML); err != nil {
		t.Fatalf("TOML output does not decode: %v\n%s", err, tomlOut.String())
	}
	if err := json.Unmarshal(jsonOut.Bytes(), &fromJSON); err != nil {
		t.Fatalf("JSON output does not decode: %v", err)
	}

	for format, m := range map[string]map[string]any{"TOML": fromTOML, "JSON": fromJSON} {
		for sectionName, keys := range upstreamKeys {
			for _, k := range keys {
				if _, ok := lookup(m, sectionName+"."+k); !ok {
					t.Errorf("%s output lacks %s.%s", format, sectionName, k)
				}
			}
		}
		if v, _ := lookup(m, "Meta.Version"); v != FormatVersion {
			t.Errorf("%s Meta.Version = %v, want %s", format, v, FormatVersion)
		}
		if v, _ := lookup(m, "Host.CPU.HExtension"); v != true {
			t.Errorf("%s Host.CPU.HExtension = %v, want true", format, v)
		}
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want VersionInfo
	}{
		{"0.1.0", VersionInfo{Semver: "0.1.0", Minor: 1}},
		{"v3.12.4-dev", VersionInfo{Semver: "v3.12.4-dev", Major: 3, Minor: 12, Patch: 4}},
		{"0.0.0-dev", VersionInfo{Semver: "0.0.0-dev"}},
		{"garbage", VersionInfo{Semver: "garbage"}},
	}
	for _, tt := range tests {
		if got := parseVersion(tt.in, ""); got != tt.want {
			t.Errorf("parseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	got := parseOSRelease([]byte("# comment\nNAME='Ubuntu'\nVERSION_ID=\"24.04\"\nID=ubuntu\nBROKEN\n"))
	for k, want := range map[string]string{"NAME": "Ubuntu", "VERSION_ID": "24.04", "ID": "ubuntu"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

func TestGatherUsesCapableFunc(t *testing.T) {
	for _, want := range []bool{true, false} {
		logger, _ := logtest.NewNullLogger()
		info := Gather(Options{
			Config:            testConfig(),
			Root:              fakeRoot(t, cpuinfoQEMUWithH, "/dev/kvm"),
			Arch:              "riscv64",
			HypervisorVersion: func(string) (string, error) { return "QEMU", nil },
			Capable:           func() bool { return want },
			Log:               logrus.NewEntry(logger),
		})
		if info.Host.VMContainerCapable != want {
			t.Errorf("VMContainerCapable = %v, want %v from Capable", info.Host.VMContainerCapable, want)
		}
	}
}
