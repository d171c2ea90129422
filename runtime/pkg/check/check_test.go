package check

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/kvm"
)

func qemuInput(hc *vc.HypervisorConfig) Input {
	return Input{
		ConfigPath:     "/etc/kata-containers/configuration.toml",
		HypervisorType: vc.QemuHypervisor,
		Hypervisor:     hc,
		Agent:          &vc.AgentConfig{Channel: vc.ChannelAuto},
	}
}

// TestRunCapableP550 models a SiFive P550 board: H extension, KVM without
// the AIA irqchip, every module loaded, vhost-vsock present.
func TestRunCapableP550(t *testing.T) {
	f := newRISCVHost(t, "eswin-eic7700x-hifive-premier-p550-6.6.21.txt")
	f.withKVM(false)
	f.loadModules("vhost_vsock", "vhost_net", "vhost", "kvm")
	f.write("dev/vhost-vsock", "")

	r := Run(context.Background(), f.host, qemuInput(f.qemuConfig()))
	if !r.Capable || r.ExitCode() != 0 {
		t.Errorf("Capable = %v, exit %d, want capable with exit 0", r.Capable, r.ExitCode())
	}
	if !r.CanCreate {
		t.Error("CanCreate = false although KVM created a vCPU")
	}
	for _, c := range r.Checks {
		want := Pass
		if c.Name == "kvm aia irqchip" {
			want = Warn
		}
		if c.Result != want {
			t.Errorf("check %q = %s (%s), want %s", c.Name, c.Result, c.Reason, want)
		}
	}

	var text, verbose, js bytes.Buffer
	if err := r.WriteText(&text, false, true); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteText(&verbose, true, true); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	golden(t, "p550.txt", f.root, text.String())
	golden(t, "p550-verbose.txt", f.root, verbose.String())
	golden(t, "p550.json", f.root, js.String())
}

// TestRunNoHVCPUFails models a VisionFive 2: no H extension, yet /dev/kvm
// exists and creates a VM, and vCPU creation fails.
func TestRunNoHVCPUFails(t *testing.T) {
	f := newRISCVHost(t, "starfive-visionfive2-jh7110-unknown.txt")
	f.withKVM(false)
	f.prober.kvm.VCPUCreated = false
	f.prober.kvmErr = fmt.Errorf("%w for vCPU 0 on /dev/kvm: %w", kvm.ErrCreateVCPU, errors.New("no such device"))
	f.loadModules("vhost_vsock", "vhost_net", "vhost", "kvm")
	f.write("dev/vhost-vsock", "")

	r := Run(context.Background(), f.host, qemuInput(f.qemuConfig()))
	if r.Capable || r.ExitCode() != 1 {
		t.Errorf("Capable = %v, exit %d, want incapable with exit 1", r.Capable, r.ExitCode())
	}
	if r.CanCreate {
		t.Error("CanCreate = true although vCPU creation failed")
	}
	cpu := find(t, r, "cpu")
	if cpu.Result != Fail || !strings.Contains(cpu.Reason, "no H extension") {
		t.Errorf("cpu = %s %q, want fail naming the missing H extension", cpu.Result, cpu.Reason)
	}
	k := find(t, r, "kvm")
	if k.Result != Fail || !strings.Contains(k.Reason, "created a VM but no vCPU") {
		t.Errorf("kvm = %s %q, want fail for the vCPU", k.Result, k.Reason)
	}
	if !strings.Contains(k.Reason, "without the H extension") {
		t.Errorf("kvm reason %q does not connect the failure to the missing H extension", k.Reason)
	}

	var text bytes.Buffer
	if err := r.WriteText(&text, false, true); err != nil {
		t.Fatal(err)
	}
	golden(t, "visionfive2-no-h.txt", f.root, text.String())
}

func TestRunTCGWithoutH(t *testing.T) {
	f := newRISCVHost(t, "milkv-mars-jh7110-6.12.43.txt")
	f.loadModules("vhost_net", "vhost")
	hc := f.qemuConfig()
	hc.Accelerator = vc.AccelTCG

	r := Run(context.Background(), f.host, qemuInput(hc))
	for _, name := range []string{"cpu", "kvm", "kernel module kvm"} {
		if c := find(t, r, name); c.Result != Warn {
			t.Errorf("%s = %s (%s), want warn under TCG", name, c.Result, c.Reason)
		}
	}
	if !r.Capable {
		t.Errorf("TCG host without H reported incapable: %+v", r.Checks)
	}
	if c := find(t, r, "kernel module kvm"); !strings.Contains(c.Reason, "without the H extension") {
		t.Errorf("kvm module reason %q does not explain that kvm cannot load without H", c.Reason)
	}
}

func TestRunWithoutConfiguration(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.withKVM(true)
	f.loadModules("vhost_vsock", "vhost_net", "vhost", "kvm")

	in := Input{ConfigPath: "", ConfigErr: errors.New("configuration file not found: looked for /etc/kata-containers/configuration.toml")}
	r := Run(context.Background(), f.host, in)
	c := find(t, r, "configuration")
	if c.Result != Fail || !strings.Contains(c.Reason, "/etc/kata-containers/configuration.toml") {
		t.Errorf("configuration = %s %q, want fail naming the missing file", c.Result, c.Reason)
	}
	if !strings.Contains(c.Fix, "--config") {
		t.Errorf("configuration fix %q does not mention --config", c.Fix)
	}
	if cpu := find(t, r, "cpu"); cpu.Result != Pass {
		t.Errorf("cpu = %s (%s): the host checks must still run without a configuration", cpu.Result, cpu.Reason)
	}
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, "hypervisor") || strings.HasPrefix(c.Name, "guest") {
			t.Errorf("check %q ran without a configuration", c.Name)
		}
	}
}

func TestRunMissingFilesFromLenientLoad(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.withKVM(true)
	in := qemuInput(f.qemuConfig())
	in.MissingFiles = []ConfigProblem{
		{Key: "hypervisor.qemu.kernel", Value: "/nonexistent", Reason: "no such file"},
		{Key: "hypervisor.qemu.virtio_fs_daemon", Value: "/usr/libexec/virtiofsd", Reason: "no such file", Fix: "install virtiofsd"},
	}
	r := Run(context.Background(), f.host, in)
	c := find(t, r, "configuration")
	if c.Result != Fail {
		t.Errorf("configuration = %s, want fail for the missing virtiofsd", c.Result)
	}
	if !strings.Contains(c.Reason, "virtio_fs_daemon") {
		t.Errorf("configuration reason %q does not name virtio_fs_daemon", c.Reason)
	}
	if strings.Contains(c.Reason, "hypervisor.qemu.kernel") {
		t.Errorf("configuration reason %q repeats the kernel, which the guest kernel check covers", c.Reason)
	}
}

func TestRunJSONShape(t *testing.T) {
	f := newRISCVHost(t, "spacemit-k3-com260-6.18.3.txt")
	f.withKVM(true)
	f.loadModules("vhost_vsock", "vhost_net", "vhost", "kvm")
	f.write("dev/vhost-vsock", "")
	r := Run(context.Background(), f.host, qemuInput(f.qemuConfig()))

	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Capable bool `json:"capable"`
		Checks  []struct {
			Name    string `json:"name"`
			Result  string `json:"result"`
			Reason  string `json:"reason"`
			Details []struct{ Key, Value string }
		} `json:"checks"`
	}
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatalf("report JSON does not decode: %v\n%s", err, buf.String())
	}
	if !decoded.Capable {
		t.Errorf("capable = false in JSON for a K3 host with KVM and AIA")
	}
	if len(decoded.Checks) != len(r.Checks) {
		t.Errorf("JSON has %d checks, report %d", len(decoded.Checks), len(r.Checks))
	}
	var present []string
	for _, c := range decoded.Checks {
		if c.Name != "cpu" {
			continue
		}
		for _, d := range c.Details {
			if strings.HasPrefix(d.Value, "present") {
				present = append(present, d.Key)
			}
		}
	}
	if want := []string{"Sstc", "Ssaia", "Smaia", "Svpbmt", "V", "Sscofpmf"}; !slices.Equal(present, want) {
		t.Errorf("present extensions in JSON = %v, want %v", present, want)
	}
}

func TestWriteTextVerdicts(t *testing.T) {
	tests := []struct {
		name    string
		report  Report
		asRoot  bool
		want    []string
		notWant []string
	}{
		{"capable as root", Report{Capable: true, CanCreate: true}, true, []string{MsgCapable, MsgCanCreate}, []string{MsgNotCapable}},
		{"capable not root", Report{Capable: true, CanCreate: true}, false, []string{MsgCapable}, []string{MsgCanCreate}},
		{"capable without VM", Report{Capable: true}, true, []string{MsgCapable}, []string{MsgCanCreate}},
		{"not capable", Report{Checks: []Check{{Name: "kvm", Result: Fail, Reason: "broken", Fix: "repair"}}}, true,
			[]string{MsgNotCapable, "FAIL  kvm: broken", "fix: repair"}, []string{MsgCapable + "\n"}},
		{"multi-line reason indented", Report{Checks: []Check{{Name: "configuration", Result: Fail, Reason: "2 problems:\n  - a\n  - b"}}}, true,
			[]string{"FAIL  configuration: 2 problems:\n        - a\n        - b\n"}, nil},
		{"warning printed", Report{Capable: true, Checks: []Check{{Name: "nested host", Result: Warn, Reason: "nested", Fix: "none"}}}, false,
			[]string{"WARN  nested host: nested", MsgCapable}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.report.WriteText(&buf, false, tt.asRoot); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, buf.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(buf.String(), w) {
					t.Errorf("output contains %q:\n%s", w, buf.String())
				}
			}
		})
	}
}
