package virtcontainers

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fakeProber returns fixed QEMU features.
type fakeProber struct {
	features QEMUFeatures
	err      error
}

func (p fakeProber) ProbeQEMU(string) (QEMUFeatures, error) { return p.features, p.err }

// fakeKVM returns fixed answers about the host's KVM.
type fakeKVM struct {
	usableErr error
	hasAIA    bool
	aiaErr    error
}

func (k fakeKVM) Usable() error         { return k.usableErr }
func (k fakeKVM) HasAIA() (bool, error) { return k.hasAIA, k.aiaErr }

// qemu72 is what the prober reads from Debian 12's qemu-system-riscv64 7.2,
// and kvmQEMU the same QEMU as built for a riscv64 host with KVM.
var (
	qemu72 = QEMUFeatures{
		Version:      QEMUVersion{Major: 7, Minor: 2, Micro: 22},
		AIAModes:     []AIAMode{AIANone, AIAAPLIC, AIAAPLICIMSIC},
		Accelerators: []Accelerator{AccelTCG},
		Seccomp:      true,
	}
	kvmQEMU = QEMUFeatures{
		Version:      QEMUVersion{Major: 10, Minor: 0, Micro: 2},
		AIAModes:     []AIAMode{AIANone, AIAAPLIC, AIAAPLICIMSIC},
		Accelerators: []Accelerator{AccelKVM, AccelTCG},
		Seccomp:      true,
	}
)

// baseConfig is the riscv64 default configuration with an initrd.
func baseConfig() HypervisorConfig {
	return HypervisorConfig{
		Type:        QemuHypervisor,
		Path:        "/usr/bin/qemu-system-riscv64",
		KernelPath:  "/usr/share/kata-containers/vmlinux.container",
		InitrdPath:  "/usr/share/kata-containers/kata-containers-initrd.img",
		MachineType: "virt",
		Accelerator: AccelTCG,
		AIA:         AIANone,
		MemoryMiB:   2048,
		SharedFS:    SharedFSNone,
	}
}

type goldenCase struct {
	name     string
	cfg      func(*HypervisorConfig)
	agent    AgentConfig
	features QEMUFeatures
	kvm      fakeKVM
	vsock    bool
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{name: "tcg-initrd", features: qemu72},
		{name: "tcg-firmware-file", features: qemu72, cfg: func(c *HypervisorConfig) {
			c.FirmwarePath = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
			c.CPUFeatures = "h=true,sstc=true"
		}},
		{name: "kvm-initrd", features: kvmQEMU, cfg: func(c *HypervisorConfig) { c.Accelerator = AccelKVM }},
		{name: "kvm-aia-auto-host-aia", features: kvmQEMU, kvm: fakeKVM{hasAIA: true}, cfg: func(c *HypervisorConfig) {
			c.Accelerator = AccelKVM
			c.AIA = AIAAuto
		}},
		{name: "kvm-aia-auto-no-host-aia", features: kvmQEMU, kvm: fakeKVM{hasAIA: false}, cfg: func(c *HypervisorConfig) {
			c.Accelerator = AccelKVM
			c.AIA = AIAAuto
		}},
		{name: "tcg-aia-aplic", features: qemu72, cfg: func(c *HypervisorConfig) { c.AIA = AIAAPLIC }},
		{name: "tcg-aia-aplic-imsic", features: qemu72, cfg: func(c *HypervisorConfig) { c.AIA = AIAAPLICIMSIC }},
		{name: "tcg-aia-auto-qemu72", features: qemu72, cfg: func(c *HypervisorConfig) { c.AIA = AIAAuto }},
		{name: "tcg-mmio", features: qemu72, cfg: func(c *HypervisorConfig) { c.VirtioTransport = VirtioMMIO }},
		{name: "kvm-vsock", features: kvmQEMU, vsock: true, cfg: func(c *HypervisorConfig) { c.Accelerator = AccelKVM }},
		{name: "kvm-mmio-vsock", features: kvmQEMU, vsock: true, cfg: func(c *HypervisorConfig) {
			c.Accelerator = AccelKVM
			c.VirtioTransport = VirtioMMIO
		}},
		{name: "tcg-9p", features: qemu72, cfg: func(c *HypervisorConfig) { c.SharedFS = SharedFS9P }},
		{name: "kvm-virtio-fs", features: kvmQEMU, vsock: true, cfg: func(c *HypervisorConfig) {
			c.Accelerator = AccelKVM
			c.SharedFS = SharedFSVirtioFS
			c.VirtioFSDaemon = "/usr/libexec/virtiofsd"
		}},
		{name: "kvm-image", features: kvmQEMU, vsock: true, cfg: func(c *HypervisorConfig) {
			c.Accelerator = AccelKVM
			c.InitrdPath = ""
			c.ImagePath = "testdata/image-mbr/kata-containers.img"
			c.RootfsType = "ext4"
		}},
		{name: "tcg-image-boot-initrd", features: qemu72, cfg: func(c *HypervisorConfig) {
			c.InitrdPath = ""
			c.ImagePath = "testdata/image-bare/kata-containers.img"
		}},
		{name: "tcg-debug", features: qemu72,
			agent: AgentConfig{EnableDebug: true, EnableTracing: true, DebugConsoleEnabled: true},
			cfg: func(c *HypervisorConfig) {
				c.EnableDebug = true
				c.KernelParams = []string{"console=ttyS0", "agent.log=info"}
			}},
		{name: "tcg-legacy-serial", features: qemu72, cfg: func(c *HypervisorConfig) { c.UseLegacySerial = true }},
		{name: "tcg-legacy-serial-vsock-no-seccomp", vsock: true,
			features: QEMUFeatures{Version: QEMUVersion{Major: 7, Minor: 2, Micro: 0}, Accelerators: []Accelerator{AccelTCG}},
			cfg:      func(c *HypervisorConfig) { c.UseLegacySerial = true }},
		{name: "tcg-sized", features: qemu72, cfg: func(c *HypervisorConfig) {
			c.DefaultVCPUs = 4
			c.DefaultMaxVCPUs = 4
			c.MemoryMiB = 512
			c.PCIeRootPorts = 4
			c.MachineAccelerators = "aclint=on"
			c.EntropySource = "/dev/random"
		}},
	}
}

// goldenLaunch builds the launch of a golden case with fixed host paths.
func goldenLaunch(t *testing.T, tc goldenCase) qemuLaunch {
	t.Helper()

	cfg := baseConfig()
	if tc.cfg != nil {
		tc.cfg(&cfg)
	}
	vsockPath := filepath.Join(t.TempDir(), "missing-vhost-vsock")
	if tc.vsock {
		if err := os.WriteFile(vsockPath, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	q, err := NewQemu("golden", cfg, tc.agent,
		WithRunRoot("/run/vc/vm"),
		WithQEMUProber(fakeProber{features: tc.features}),
		WithHostKVM(tc.kvm),
		WithVhostVsockDevice(vsockPath))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	launch, err := q.resolveLaunch()
	if err != nil {
		t.Fatalf("resolveLaunch: %v", err)
	}
	if launch.channel == ChannelVsock {
		launch.guestCID = 3
		launch.vhostFD = vhostFDInChild
	}
	return launch
}

// formatCommand prints a command line one option and its value a line, as
// a shell would take it.
func formatCommand(path string, args []string) string {
	var b strings.Builder
	b.WriteString(path)
	for i := 0; i < len(args); i++ {
		b.WriteString(" \\\n  ")
		b.WriteString(shellQuote(args[i]))
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			b.WriteString(" ")
			b.WriteString(shellQuote(args[i+1]))
			i++
		}
	}
	b.WriteString("\n")
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " '\"\\$") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func TestQemuCommandLineGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			launch := goldenLaunch(t, tc)
			got := formatCommand("/usr/bin/qemu-system-riscv64", launch.args())

			path := filepath.Join("testdata", "qemu-"+tc.name+".golden")
			if *updateGolden {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading %s: %v (run go test -run TestQemuCommandLineGolden -update to create it)", path, err)
			}
			if got != string(want) {
				t.Errorf("command line differs from %s (rerun with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
}

// TestQemuCommandLineRules checks rules that every variant must keep, so a
// golden file rewritten by -update cannot silently break them.
func TestQemuCommandLineRules(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			launch := goldenLaunch(t, tc)
			args := launch.args()
			opt := func(name string) []string {
				var values []string
				for i := 0; i+1 < len(args); i++ {
					if args[i] == name {
						values = append(values, args[i+1])
					}
				}
				return values
			}

			for _, flag := range []string{"-nodefaults", "-no-user-config", "-nographic"} {
				if !contains(args, flag) {
					t.Errorf("command line lacks %s", flag)
				}
			}

			cpu := opt("-cpu")
			if len(cpu) != 1 || strings.HasSuffix(cpu[0], ",") {
				t.Errorf("-cpu = %q, want one value without a trailing comma", cpu)
			}
			bios := opt("-bios")
			switch launch.machine.accel {
			case AccelKVM:
				if !strings.HasPrefix(cpu[0], "host") {
					t.Errorf("KVM -cpu = %q, want host", cpu[0])
				}
				if len(bios) != 1 || bios[0] != "none" {
					t.Errorf("KVM -bios = %q, want none", bios)
				}
			case AccelTCG:
				if !strings.HasPrefix(cpu[0], "rv64") {
					t.Errorf("TCG -cpu = %q, want rv64", cpu[0])
				}
				if len(bios) != 1 || bios[0] == "none" {
					t.Errorf("TCG -bios = %q, want OpenSBI", bios)
				}
			}

			appendArg := strings.Join(opt("-append"), " ")
			for _, bad := range []string{"pmem", "nvdimm"} {
				if strings.Contains(appendArg, bad) {
					t.Errorf("-append %q mentions %s", appendArg, bad)
				}
			}
			if strings.Contains(strings.Join(opt("-machine"), ""), "nvdimm") {
				t.Errorf("-machine %q enables NVDIMM", opt("-machine"))
			}
			if launch.image != "" && !strings.Contains(appendArg, "root=/dev/vda") {
				t.Errorf("image boot -append %q lacks root=/dev/vda", appendArg)
			}
			if !strings.Contains(appendArg, "panic=1") {
				t.Errorf("-append %q lacks panic=1", appendArg)
			}
			if launch.seccomp && len(opt("-sandbox")) != 1 {
				t.Errorf("-sandbox = %q with a seccomp QEMU, want one", opt("-sandbox"))
			}
			if !launch.seccomp && len(opt("-sandbox")) != 0 {
				t.Errorf("-sandbox = %q with a QEMU without seccomp, want none", opt("-sandbox"))
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

func TestGuestKernelParamsOrder(t *testing.T) {
	params := guestKernelParams(kernelParamsInput{
		vcpus:      1,
		agent:      AgentConfig{EnableDebug: true},
		userParams: []string{"console=ttyS0", "quiet=0"},
	})
	got := strings.Join(params, " ")
	want := "quiet console=hvc0 panic=1 nr_cpus=1 agent.log=debug console=ttyS0 quiet=0"
	if got != want {
		t.Errorf("guestKernelParams = %q, want %q", got, want)
	}
}

func TestNewQemuRejectsUnsupported(t *testing.T) {
	tests := []struct {
		name    string
		cfg     func(*HypervisorConfig)
		wantKey string
	}{
		{"machine type", func(c *HypervisorConfig) { c.MachineType = "microvm" }, "machine_type"},
		{"vIOMMU", func(c *HypervisorConfig) { c.EnableIOMMU = true }, "enable_iommu"},
		{"NVDIMM", func(c *HypervisorConfig) { c.BlockDeviceDriver = BlockDriverNVDIMM }, "block_device_driver"},
		{"virtio-mem", func(c *HypervisorConfig) { c.EnableVirtioMem = true }, "enable_virtio_mem"},
		{"CPU hot-plug", func(c *HypervisorConfig) { c.DefaultVCPUs = 1; c.DefaultMaxVCPUs = 4 }, "default_maxvcpus"},
		{"memory hot-plug", func(c *HypervisorConfig) { c.MemoryMiB = 1024; c.MaxMemoryMiB = 4096 }, "default_maxmemory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.cfg(&cfg)
			_, err := NewQemu("x", cfg, AgentConfig{})
			if err == nil {
				t.Fatalf("NewQemu returned no error, want one naming %s", tc.wantKey)
			}
			if !errorsIs(err, ErrNotSupported) {
				t.Errorf("NewQemu error = %v, want ErrNotSupported", err)
			}
			if !strings.Contains(err.Error(), tc.wantKey) {
				t.Errorf("NewQemu error = %q, want it to name %s", err, tc.wantKey)
			}
		})
	}
}

func TestNewQemuRejectsFirmwareWithKVM(t *testing.T) {
	cfg := baseConfig()
	cfg.Accelerator = AccelKVM
	cfg.FirmwarePath = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"

	_, err := NewQemu("x", cfg, AgentConfig{})
	if !errorsIs(err, ErrMModeFirmwareWithKVM) {
		t.Fatalf("NewQemu error = %v, want ErrMModeFirmwareWithKVM", err)
	}
	for _, want := range []string{"firmware", "tcg"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewQemu error = %q, want it to mention %q", err, want)
		}
	}
}

func TestNewQemuRejectsBadValues(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*HypervisorConfig)
	}{
		{"accelerator", func(c *HypervisorConfig) { c.Accelerator = "hvf" }},
		{"aia", func(c *HypervisorConfig) { c.AIA = "imsic" }},
		{"transport", func(c *HypervisorConfig) { c.VirtioTransport = "ccw" }},
		{"shared fs", func(c *HypervisorConfig) { c.SharedFS = "virtio-fs-nydus" }},
		{"accel in machine_accelerators", func(c *HypervisorConfig) { c.MachineAccelerators = "accel=kvm" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.cfg(&cfg)
			if _, err := NewQemu("x", cfg, AgentConfig{}); !errorsIs(err, ErrInvalidConfig) {
				t.Errorf("NewQemu error = %v, want ErrInvalidConfig", err)
			}
		})
	}

	for _, id := range []string{"", "..", "a/b"} {
		if _, err := NewQemu(id, baseConfig(), AgentConfig{}); !errorsIs(err, ErrInvalidConfig) {
			t.Errorf("NewQemu(id %q) error = %v, want ErrInvalidConfig", id, err)
		}
	}
}

func TestQemuStopTimeoutOption(t *testing.T) {
	q, err := NewQemu("x", baseConfig(), AgentConfig{}, WithStopTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if q.stopTimeout != 3*time.Second {
		t.Errorf("stopTimeout = %v, want 3s", q.stopTimeout)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
