package check

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

const x86CPUInfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme de pse hypervisor\n\n"

func TestCheckArchitecture(t *testing.T) {
	tests := []struct {
		name       string
		goarch     string
		uname      string
		kernelArch string // "" leaves /proc/sys/kernel/arch out
		cpuinfo    string
		want       Result
		reason     []string
	}{
		{"riscv64 host", "riscv64", "riscv64", "riscv64", "", Pass, []string{"riscv64 host"}},
		{"riscv64 kernel before 6.1", "riscv64", "riscv64", "", "", Pass, []string{"riscv64 host"}},
		{"amd64 build on x86_64", "amd64", "x86_64", "x86_64", x86CPUInfo, Fail,
			[]string{"this is not a riscv64 host", "GOARCH=amd64", "x86_64"}},
		{"riscv64 build under qemu-user", "riscv64", "riscv64", "x86_64", x86CPUInfo, Fail,
			[]string{"this is not a riscv64 host", "the kernel runs on x86_64", "an x86 CPU (AMD EPYC)", "user-mode emulation"}},
		{"riscv64 kernel with x86 cpuinfo", "riscv64", "riscv64", "riscv64", x86CPUInfo, Fail,
			[]string{"/proc/cpuinfo describes an x86 CPU"}},
		{"qemu-user on a kernel before 6.1", "riscv64", "riscv64", "", x86CPUInfo, Fail,
			[]string{"this is not a riscv64 host", "uname reports riscv64", "an x86 CPU (AMD EPYC)", "user-mode emulation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
			f.host.GOARCH = tt.goarch
			f.host.Uname.Machine = tt.uname
			if err := os.Remove(filepath.Join(f.root, "proc/sys/kernel/arch")); err != nil {
				t.Fatal(err)
			}
			if tt.kernelArch != "" {
				f.write("proc/sys/kernel/arch", tt.kernelArch+"\n")
			}
			if tt.cpuinfo != "" {
				f.write("proc/cpuinfo", tt.cpuinfo)
			}

			got := checkArchitecture(f.host)
			if got.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", got.Result, got.Reason, tt.want)
			}
			for _, s := range tt.reason {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("Reason %q lacks %q", got.Reason, s)
				}
			}
			if got.Result == Fail && got.Fix == "" {
				t.Error("a failed architecture check has no fix")
			}
		})
	}
}

// TestRunStopsOnForeignHost checks that a non-riscv64 host gets one failed
// check and nothing that tests riscv64 hardware.
func TestRunStopsOnForeignHost(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.write("proc/sys/kernel/arch", "x86_64\n")
	f.write("proc/cpuinfo", x86CPUInfo)
	f.withKVM(false)

	r := Run(context.Background(), f.host, Input{ConfigErr: errors.New("not loaded")})
	if len(r.Checks) != 1 || r.Checks[0].Name != "architecture" {
		t.Fatalf("checks = %+v, want only the architecture check", r.Checks)
	}
	if r.Capable || r.ExitCode() != 1 {
		t.Errorf("Capable = %v, exit %d, want exit 1", r.Capable, r.ExitCode())
	}
	if r.Skipped == "" {
		t.Error("Skipped is empty, so the output does not say why the other checks did not run")
	}
}

func TestCheckModules(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.loadModules("kvm", "vhost")
	f.write("lib/modules/"+testRelease+"/modules.builtin", "kernel/drivers/vhost/vhost_net.ko\nkernel/net/vmw_vsock/vsock.ko\n")

	env := &environment{host: f.host, in: qemuInput(f.qemuConfig())}
	checks := env.checkModules(context.Background())
	got := map[string]Check{}
	for _, c := range checks {
		got[c.Name] = c
	}

	want := map[string]struct {
		result Result
		state  string
	}{
		"kernel module kvm":         {Pass, "loaded"},
		"kernel module vhost":       {Pass, "loaded"},
		"kernel module vhost_net":   {Pass, "built in"},
		"kernel module vhost_vsock": {Warn, "missing"},
	}
	for name, w := range want {
		c, ok := got[name]
		if !ok {
			t.Errorf("no check %q", name)
			continue
		}
		if c.Result != w.result {
			t.Errorf("%s = %s (%s), want %s", name, c.Result, c.Reason, w.result)
		}
		if !slices.Contains(c.Details, Detail{"state", w.state}) {
			t.Errorf("%s details %v, want state %q", name, c.Details, w.state)
		}
	}
	if len(f.prober.loaded) != 0 {
		t.Errorf("modprobe ran for %v without --load-modules", f.prober.loaded)
	}
}

func TestCheckModulesSysModuleWithoutProcModules(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	if err := os.Remove(filepath.Join(f.root, "proc/modules")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.root, "sys/module/kvm/parameters"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := &environment{host: f.host, in: qemuInput(f.qemuConfig())}
	c := env.checkModules(context.Background())[0]
	if c.Name != "kernel module kvm" || c.Result != Pass || !slices.Contains(c.Details, Detail{"state", "built in"}) {
		t.Errorf("kvm on a kernel without /proc/modules = %+v, want built in", c)
	}
}

func TestCheckModulesLoadModules(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.prober.loadModule = func(name string) error {
		if name == "vhost_vsock" {
			return errors.New("modprobe: FATAL: Module vhost_vsock not found in directory /lib/modules/" + testRelease)
		}
		f.loadModules(append(slices.Clone(f.prober.loaded), name)...)
		return nil
	}
	in := qemuInput(f.qemuConfig())
	in.Agent.Channel = vc.ChannelVsock
	in.LoadModules = true

	env := &environment{host: f.host, in: in}
	checks := env.checkModules(context.Background())
	if want := []string{"kvm", "vhost", "vhost_net", "vhost_vsock"}; !slices.Equal(f.prober.loaded, want) {
		t.Errorf("modprobe ran for %v, want %v", f.prober.loaded, want)
	}
	for _, c := range checks {
		want := Pass
		if c.Name == "kernel module vhost_vsock" {
			want = Fail
			if !strings.Contains(c.Reason, "--load-modules could not load it") || !strings.Contains(c.Reason, "Module vhost_vsock not found") {
				t.Errorf("vhost_vsock reason %q does not report the modprobe failure", c.Reason)
			}
		}
		if c.Result != want {
			t.Errorf("%s = %s (%s), want %s", c.Name, c.Result, c.Reason, want)
		}
	}
}

// TestRunLoadModulesBeforeKVM checks that a kvm module loaded by
// --load-modules is in place before the KVM probe looks for /dev/kvm.
func TestRunLoadModulesBeforeKVM(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.prober.loadModule = func(name string) error {
		if name == "kvm" {
			f.withKVM(true)
		}
		return nil
	}
	in := qemuInput(f.qemuConfig())
	in.LoadModules = true

	r := Run(context.Background(), f.host, in)
	if c := find(t, r, "kvm"); c.Result != Pass {
		t.Errorf("kvm = %s (%s), want pass after --load-modules created /dev/kvm", c.Result, c.Reason)
	}
	if len(r.Checks) < 3 || r.Checks[2].Name != "kvm" {
		t.Errorf("the kvm check is not listed right after architecture and cpu: %+v", r.Checks)
	}
}

func TestCheckModulesFirecracker(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.loadModules("kvm")
	in := Input{HypervisorType: vc.FirecrackerHypervisor, Hypervisor: &vc.HypervisorConfig{}, LoadModules: true}
	env := &environment{host: f.host, in: in}
	for _, c := range env.checkModules(context.Background()) {
		if c.Result != Pass {
			t.Errorf("%s = %s (%s), want pass: Firecracker uses no vhost module", c.Name, c.Result, c.Reason)
		}
	}
	if len(f.prober.loaded) != 0 {
		t.Errorf("modprobe ran for %v, modules Firecracker does not use", f.prober.loaded)
	}
}

func TestCheckNestedHost(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		files   map[string]string
		want    Result
		reason  string
	}{
		{"bare metal", "eswin-eic7700x-hifive-premier-p550-6.6.21.txt",
			map[string]string{"sys/firmware/devicetree/base/compatible": "sifive,hifive-premier-p550\x00eswin,eic7700\x00"}, Pass, "no sign"},
		{"QEMU virt devicetree", "qemu-kvm-guest-rv64-unknown.txt",
			map[string]string{"sys/firmware/devicetree/base/compatible": "riscv-virtio\x00"}, Warn, "riscv-virtio"},
		{"proc device-tree", "qemu-kvm-guest-rv64-unknown.txt",
			map[string]string{"proc/device-tree/compatible": "riscv-virtio\x00"}, Warn, "riscv-virtio"},
		{"QEMU CPU IDs", "qemu-virt-6.14.0-rc1.txt", nil, Warn, "mvendorid is 0 and marchid is 0x0"},
		{"QEMU 7.2 version in marchid", "../cpuinfo-captured/qemu-7.2-tcg-rv64-h-debian-6.12.117.txt", nil, Warn, "marchid is 0x70216"},
		{"user-set KVM guest IDs", "qemu-kvm-guest-rv64-unknown.txt", nil, Pass, "no sign"},
		{"Xen", "eswin-eic7700x-hifive-premier-p550-6.6.21.txt", map[string]string{"sys/hypervisor/type": "xen\n"}, Warn, "xen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, tt.fixture)
			for p, content := range tt.files {
				f.write(p, content)
			}
			env := &environment{host: f.host}
			env.loadCPU()
			c := env.checkNestedHost()
			if c.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", c.Result, c.Reason, tt.want)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason %q lacks %q", c.Reason, tt.reason)
			}
		})
	}
}

func TestCheckKVMPMU(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		accel   vc.Accelerator
		want    Result // "" when the check must not be listed
		reason  string
	}{
		{"P550 with Sscofpmf", "eswin-eic7700x-hifive-premier-p550-6.6.21.txt", vc.AccelKVM, Pass, "has Sscofpmf"},
		{"QEMU rv64 without Sscofpmf", "qemu-virt-6.14.0-rc1.txt", vc.AccelKVM, Fail, "dies with SIGILL"},
		{"emulated host of QEMU 7.2", "../cpuinfo-captured/qemu-7.2-tcg-rv64-h-debian-6.12.117.txt", vc.AccelKVM, Fail, "lacks Sscofpmf"},
		{"TCG needs no SBI PMU", "qemu-virt-6.14.0-rc1.txt", vc.AccelTCG, "", ""},
		{"no H extension", "milkv-mars-jh7110-6.12.43.txt", vc.AccelKVM, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, tt.fixture)
			env := &environment{host: f.host, in: Input{HypervisorType: vc.QemuHypervisor, Hypervisor: &vc.HypervisorConfig{Accelerator: tt.accel}}}
			env.loadCPU()
			c, listed := env.checkKVMPMU()
			if tt.want == "" {
				if listed {
					t.Errorf("check listed as %s (%s), want it left out", c.Result, c.Reason)
				}
				return
			}
			if !listed || c.Result != tt.want {
				t.Errorf("listed = %v, Result = %s (%s), want %s", listed, c.Result, c.Reason, tt.want)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason %q lacks %q", c.Reason, tt.reason)
			}
			if c.Result == Fail && !strings.Contains(c.Fix, "sscofpmf=true") {
				t.Errorf("Fix %q does not say how to give a QEMU guest host Sscofpmf", c.Fix)
			}
		})
	}
}
