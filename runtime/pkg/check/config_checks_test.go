package check

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

func TestCheckKernelFormats(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	image := make([]byte, 4096)
	copy(image[0x30:], "RISCV\x00\x00\x00")
	copy(image[0x38:], "RSC\x05")

	tests := []struct {
		name   string
		path   string
		hv     vc.HypervisorType
		want   Result
		reason string
	}{
		{"Image for QEMU", f.write("k/Image", string(image)), vc.QemuHypervisor, Pass, "riscv64 Image"},
		{"Image for Firecracker", f.write("k/Image2", string(image)), vc.FirecrackerHypervisor, Pass, "riscv64 Image"},
		{"Image.gz for QEMU", f.gzipFile("k/Image.gz", image), vc.QemuHypervisor, Fail, "gzip"},
		{"Image.gz for Firecracker", f.gzipFile("k/Image2.gz", image), vc.FirecrackerHypervisor, Fail, "gzip"},
		{"unknown file for QEMU", f.write("k/blob", "not a kernel"), vc.QemuHypervisor, Warn, "no riscv64 Image header"},
		{"unknown file for Firecracker", f.write("k/blob2", "not a kernel"), vc.FirecrackerHypervisor, Fail, "no riscv64 Image header"},
		{"missing file", f.root + "/k/none", vc.QemuHypervisor, Fail, "/k/none does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &environment{host: f.host, in: Input{HypervisorType: tt.hv, Hypervisor: &vc.HypervisorConfig{KernelPath: tt.path}}}
			c := env.checkKernel()
			if c.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", c.Result, c.Reason, tt.want)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason %q lacks %q", c.Reason, tt.reason)
			}
		})
	}
}

// TestCheckKernelELF uses the test binary as the kernel: a riscv64 ELF under
// qemu-user, which QEMU loads and Firecracker does not, and another machine's
// ELF on the build host, which neither loads.
func TestCheckKernelELF(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	for _, hv := range []vc.HypervisorType{vc.QemuHypervisor, vc.FirecrackerHypervisor} {
		env := &environment{host: f.host, in: Input{HypervisorType: hv, Hypervisor: &vc.HypervisorConfig{KernelPath: exe}}}
		c := env.checkKernel()
		want := Fail
		if isRISCV64Test() && hv == vc.QemuHypervisor {
			want = Pass
		}
		if c.Result != want {
			t.Errorf("%s kernel %s = %s (%s), want %s", hv, exe, c.Result, c.Reason, want)
		}
	}
}

func TestCheckRootfs(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	mbr := make([]byte, 4096)
	mbr[510], mbr[511] = 0x55, 0xAA
	ext4 := make([]byte, 4096)
	ext4[1080], ext4[1081] = 0x53, 0xEF
	disk := f.write("img/mbr.img", string(mbr))
	fs := f.write("img/ext4.img", string(ext4))
	cpio := f.write("img/initrd.cpio", "070701000000000000")
	zinitrd := f.gzipFile("img/initrd.gz", []byte("070701000000000000"))
	junk := f.write("img/junk", "hello")

	tests := []struct {
		name          string
		hv            vc.HypervisorType
		image, initrd string
		want          Result
		reason        string
	}{
		{"MBR disk", vc.QemuHypervisor, disk, "", Pass, "MBR"},
		{"bare ext4", vc.QemuHypervisor, fs, "", Pass, "ext4"},
		{"cpio initrd", vc.QemuHypervisor, "", cpio, Pass, "cpio"},
		{"gzip initrd", vc.QemuHypervisor, "", zinitrd, Pass, "gzip"},
		{"unknown image", vc.QemuHypervisor, junk, "", Warn, "no format"},
		{"both", vc.QemuHypervisor, disk, cpio, Fail, "both"},
		{"neither", vc.QemuHypervisor, "", "", Fail, "neither"},
		{"initrd with Firecracker", vc.FirecrackerHypervisor, "", cpio, Fail, "disk image only"},
		{"missing image", vc.QemuHypervisor, f.root + "/img/none", "", Fail, "/img/none does not exist"},
		{"empty image", vc.QemuHypervisor, f.write("img/empty", ""), "", Fail, "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &vc.HypervisorConfig{ImagePath: tt.image, InitrdPath: tt.initrd}
			env := &environment{host: f.host, in: Input{HypervisorType: tt.hv, Hypervisor: hc}}
			c := env.checkRootfs()
			if c.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", c.Result, c.Reason, tt.want)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason %q lacks %q", c.Reason, tt.reason)
			}
		})
	}
}

func TestCheckFirmware(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	bin := f.write("fw/fw_dynamic.bin", "\x6f\x00\x00\x00")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		hv       vc.HypervisorType
		accel    vc.Accelerator
		firmware string
		want     Result
	}{
		{"none under KVM", vc.QemuHypervisor, vc.AccelKVM, "", Pass},
		{"none under TCG", vc.QemuHypervisor, vc.AccelTCG, "", Pass},
		{"OpenSBI under KVM", vc.QemuHypervisor, vc.AccelKVM, bin, Fail},
		{"OpenSBI binary under TCG", vc.QemuHypervisor, vc.AccelTCG, bin, Pass},
		{"missing under TCG", vc.QemuHypervisor, vc.AccelTCG, f.root + "/fw/none", Fail},
		{"firmware with Firecracker", vc.FirecrackerHypervisor, "", bin, Warn},
	}
	if !isRISCV64Test() {
		tests = append(tests, struct {
			name     string
			hv       vc.HypervisorType
			accel    vc.Accelerator
			firmware string
			want     Result
		}{"ELF of another machine under TCG", vc.QemuHypervisor, vc.AccelTCG, exe, Fail})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := &vc.HypervisorConfig{Accelerator: tt.accel, FirmwarePath: tt.firmware}
			env := &environment{host: f.host, in: Input{HypervisorType: tt.hv, Hypervisor: hc}}
			if c := env.checkFirmware(); c.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", c.Result, c.Reason, tt.want)
			}
		})
	}
}

func TestCheckHypervisorQEMU(t *testing.T) {
	tests := []struct {
		name   string
		aia    vc.AIAMode
		accel  vc.Accelerator
		caps   *qemucaps.Caps
		want   Result
		reason string
	}{
		{"auto on 7.2", vc.AIAAuto, vc.AccelKVM, nil, Pass, "QEMU 7.2.22"},
		{"aplic-imsic under KVM on 7.2", vc.AIAAPLICIMSIC, vc.AccelKVM, nil, Warn, "before 8.2.0"},
		{"aplic-imsic under TCG on 7.2", vc.AIAAPLICIMSIC, vc.AccelTCG, nil, Warn, "hangs Linux 6.12 guests"},
		{"aplic under TCG on 7.2", vc.AIAAPLIC, vc.AccelTCG, nil, Pass, "aia = \"aplic\""},
		{"aplic-imsic on 8.2", vc.AIAAPLICIMSIC, vc.AccelKVM,
			&qemucaps.Caps{Version: qemucaps.Version{Major: 8, Minor: 2, Micro: 2}, AIAModes: []string{"none", "aplic", "aplic-imsic"}}, Pass, "8.2.2"},
		{"too old", vc.AIAAuto, vc.AccelKVM, &qemucaps.Caps{Path: "/usr/bin/qemu-system-riscv64", Version: qemucaps.Version{Major: 6, Minor: 2}}, Fail, "older than 7.0.0"},
		{"aia without property", vc.AIAAPLIC, vc.AccelKVM, &qemucaps.Caps{Version: qemucaps.Version{Major: 7, Minor: 0}}, Fail, "no aia property"},
	}
	aia82 := &qemucaps.Caps{Version: qemucaps.Version{Major: 8, Minor: 2}, AIAModes: []string{"none", "aplic", "aplic-imsic"}}
	for _, tt := range []struct {
		name     string
		kvmAIA   bool
		want     Result
		inReason string
	}{
		{"aplic-imsic with KVM AIA irqchip", true, Pass, "aplic-imsic"},
		{"aplic-imsic without KVM AIA irqchip", false, Fail, "needs KVM's in-kernel AIA irqchip"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, "spacemit-k3-com260-6.18.3.txt")
			f.prober.qemu = aia82
			f.withKVM(tt.kvmAIA)
			hc := f.qemuConfig()
			hc.AIA = vc.AIAAPLICIMSIC
			env := &environment{host: f.host, in: qemuInput(hc)}
			env.probeKVM()
			c := env.checkHypervisor(context.Background())
			if c.Result != tt.want || !strings.Contains(c.Reason, tt.inReason) {
				t.Errorf("%s (%s), want %s mentioning %q", c.Result, c.Reason, tt.want, tt.inReason)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
			f.prober.qemu = tt.caps
			hc := f.qemuConfig()
			hc.AIA, hc.Accelerator = tt.aia, tt.accel
			env := &environment{host: f.host, in: qemuInput(hc)}
			c := env.checkHypervisor(context.Background())
			if c.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", c.Result, c.Reason, tt.want)
			}
			if !strings.Contains(c.Reason, tt.reason) {
				t.Errorf("Reason %q lacks %q", c.Reason, tt.reason)
			}
		})
	}
}

func TestCheckHypervisorMissingBinary(t *testing.T) {
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	hc := f.qemuConfig()
	hc.Path = f.root + "/usr/bin/nonexistent"
	env := &environment{host: f.host, in: qemuInput(hc)}
	c := env.checkHypervisor(context.Background())
	if c.Result != Fail || !strings.Contains(c.Reason, "nonexistent") || c.Fix == "" {
		t.Errorf("missing QEMU = %+v, want a fail naming the path with a fix", c)
	}

	hc.Path = f.write("usr/bin/not-executable", "data")
	if c := env.checkHypervisor(context.Background()); c.Result != Fail || !strings.Contains(c.Reason, "not an executable") {
		t.Errorf("non-executable QEMU = %s %q, want fail", c.Result, c.Reason)
	}
}

// TestCheckHypervisorSystemQEMU probes the real qemu-system-riscv64.
func TestCheckHypervisorSystemQEMU(t *testing.T) {
	const qemu = "/usr/bin/qemu-system-riscv64"
	if _, err := os.Stat(qemu); err != nil {
		t.Skipf("needs %s (Debian package qemu-system-misc): %v", qemu, err)
	}
	f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
	f.host.Prober = SystemProber{}

	for _, tt := range []struct {
		aia  vc.AIAMode
		want Result
	}{{vc.AIAAuto, Pass}, {vc.AIANone, Pass}, {"msi-only", Fail}} {
		hc := f.qemuConfig()
		hc.Path, hc.AIA, hc.Accelerator = qemu, tt.aia, vc.AccelTCG
		env := &environment{host: f.host, in: qemuInput(hc)}
		c := env.checkHypervisor(context.Background())
		if c.Result != tt.want {
			t.Errorf("aia = %q: %s (%s), want %s", tt.aia, c.Result, c.Reason, tt.want)
		}
	}
}

func TestRunFirecracker(t *testing.T) {
	tests := []struct {
		name    string
		aia     bool
		initrd  bool
		channel vc.AgentChannel
		fcOut   string
		fcErr   error
		failed  []string
	}{
		{"capable", true, false, vc.ChannelAuto, "Firecracker v1.13.0-dev\n\nSupported snapshot data format versions: v7.0.0\n", nil, nil},
		{"no AIA irqchip", false, false, vc.ChannelAuto, "Firecracker v1.13.0\n", nil, []string{"kvm aia irqchip"}},
		{"initrd", true, true, vc.ChannelVsock, "Firecracker v1.13.0\n", nil, []string{"guest root filesystem"}},
		{"serial channel", true, false, vc.ChannelSerial, "Firecracker v1.13.0\n", nil, []string{"agent channel"}},
		{"not firecracker", true, false, vc.ChannelAuto, "cloud-hypervisor v38.0\n", nil, []string{"hypervisor firecracker"}},
		{"binary fails", true, false, vc.ChannelAuto, "", errors.New("exit status 1"), []string{"hypervisor firecracker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, "spacemit-k3-com260-6.18.3.txt")
			f.withKVM(tt.aia)
			f.loadModules("kvm")
			f.prober.fcOutput, f.prober.fcErr = tt.fcOut, tt.fcErr
			hc := f.qemuConfig()
			hc.Type = vc.FirecrackerHypervisor
			hc.Path = f.writeExecutable("usr/bin/firecracker", "#!/bin/sh\n")
			if tt.initrd {
				hc.ImagePath = ""
				hc.InitrdPath = f.write("initrd.cpio", "070701")
			}
			in := Input{ConfigPath: "/etc/kata-containers/configuration.toml", HypervisorType: vc.FirecrackerHypervisor,
				Hypervisor: hc, Agent: &vc.AgentConfig{Channel: tt.channel}}

			r := Run(context.Background(), f.host, in)
			var failed []string
			for _, c := range r.Checks {
				if c.Result == Fail {
					failed = append(failed, c.Name)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tt.failed, ",") {
				t.Errorf("failed checks = %q, want %q", failed, tt.failed)
			}
			if r.Capable != (len(tt.failed) == 0) {
				t.Errorf("Capable = %v with failures %q", r.Capable, failed)
			}
		})
	}
}

func TestCheckAgentChannelQEMU(t *testing.T) {
	tests := []struct {
		name    string
		channel vc.AgentChannel
		device  bool
		want    Result
	}{
		{"vsock with device", vc.ChannelVsock, true, Pass},
		{"vsock without device", vc.ChannelVsock, false, Fail},
		{"auto without device", vc.ChannelAuto, false, Warn},
		{"auto with device", vc.ChannelAuto, true, Pass},
		{"serial", vc.ChannelSerial, false, Pass},
		{"unset", "", false, Warn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRISCVHost(t, "qemu-virt-6.14.0-rc1.txt")
			if tt.device {
				f.write("dev/vhost-vsock", "")
			}
			in := qemuInput(f.qemuConfig())
			in.Agent.Channel = tt.channel
			env := &environment{host: f.host, in: in}
			if c := env.checkAgentChannel(); c.Result != tt.want {
				t.Errorf("Result = %s (%s), want %s", c.Result, c.Reason, tt.want)
			}
		})
	}
}
