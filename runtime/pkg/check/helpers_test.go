package check

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/kvm"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

const (
	fixtureDir  = "../../../tests/fixtures/cpuinfo"
	testRelease = "6.12.43-riscv64"
)

// fakeHost is a host tree under a temporary root plus a scripted Prober.
type fakeHost struct {
	t      *testing.T
	root   string
	prober *fakeProber
	host   *Host
}

// newRISCVHost returns a riscv64 host whose /proc/cpuinfo is the named
// fixture, with /proc/sys/kernel/arch, an empty /proc/modules and no /dev.
func newRISCVHost(t *testing.T, cpuinfoFixture string) *fakeHost {
	t.Helper()
	root := t.TempDir()
	f := &fakeHost{t: t, root: root, prober: &fakeProber{}}
	f.host = &Host{
		Root:   root,
		GOARCH: "riscv64",
		Uname:  Uname{Machine: "riscv64", Release: testRelease},
		IsRoot: true,
		Prober: f.prober,
	}
	cpuinfo, err := os.ReadFile(filepath.Join(fixtureDir, cpuinfoFixture))
	if err != nil {
		t.Fatal(err)
	}
	f.write("proc/cpuinfo", string(cpuinfo))
	f.write("proc/sys/kernel/arch", "riscv64\n")
	f.write("proc/modules", "")
	return f
}

// write creates the file rel under the fake root.
func (f *fakeHost) write(rel, content string) string {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// writeExecutable creates the executable file rel under the fake root.
func (f *fakeHost) writeExecutable(rel, content string) string {
	f.t.Helper()
	p := f.write(rel, content)
	if err := os.Chmod(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// loadModules writes /proc/modules lines for the named modules.
func (f *fakeHost) loadModules(names ...string) {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + " 1245184 3 - Live 0x0000000000000000\n")
	}
	f.write("proc/modules", b.String())
}

// withKVM creates /dev/kvm and scripts the prober as a host whose KVM
// creates VMs and vCPUs, with or without the AIA irqchip.
func (f *fakeHost) withKVM(aia bool) {
	f.write("dev/kvm", "")
	r := &kvm.Result{APIVersion: 12, VMCreated: true, VCPUCreated: true, AIAIrqchip: aia,
		Capabilities: []kvm.Capability{{Name: "KVM_CAP_MAX_VCPUS", Value: 1024}}}
	if !aia {
		r.AIAError = errors.New("KVM_CREATE_DEVICE test of device type 11: no such device")
	}
	f.prober.kvm = r
}

// qemuConfig writes a riscv64 Image kernel and an MBR disk image and returns a
// QEMU configuration that uses them.
func (f *fakeHost) qemuConfig() *vc.HypervisorConfig {
	kernel := make([]byte, 4096)
	kernel[0x20] = 2 // header version 0.2, as Linux 6.12 writes it
	copy(kernel[0x30:], "RISCV\x00\x00\x00")
	copy(kernel[0x38:], "RSC\x05")
	disk := make([]byte, 4096)
	disk[510], disk[511] = 0x55, 0xAA
	return &vc.HypervisorConfig{
		Type:        vc.QemuHypervisor,
		Path:        f.writeExecutable("usr/bin/qemu-system-riscv64", "#!/bin/sh\n"),
		KernelPath:  f.write("usr/share/kata-containers/vmlinux.container", string(kernel)),
		ImagePath:   f.write("usr/share/kata-containers/kata-containers.img", string(disk)),
		Accelerator: vc.AccelKVM,
		AIA:         vc.AIAAuto,
	}
}

func (f *fakeHost) gzipFile(rel string, content []byte) string {
	f.t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(content); err != nil {
		f.t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.t.Fatal(err)
	}
	return f.write(rel, buf.String())
}

// fakeProber returns probe results from its fields and records module loads.
type fakeProber struct {
	kvm      *kvm.Result
	kvmErr   error
	vsockErr error
	qemu     *qemucaps.Caps
	qemuErr  error
	fcOutput string
	fcErr    error
	// loadModule, when set, runs for each modprobe; loaded records the names.
	loadModule func(name string) error
	loaded     []string
}

func (p *fakeProber) KVM(device string) (*kvm.Result, error) {
	if p.kvm == nil {
		return &kvm.Result{Device: device}, errors.Join(kvm.ErrOpen, os.ErrNotExist)
	}
	r := *p.kvm
	r.Device = device
	return &r, p.kvmErr
}

func (p *fakeProber) VhostVsock(device string) (*kvm.VsockResult, error) {
	if p.vsockErr != nil {
		return nil, p.vsockErr
	}
	if _, err := os.Stat(device); err != nil {
		return nil, err
	}
	return &kvm.VsockResult{Device: device, Features: 1 << 32}, nil
}

func (p *fakeProber) QEMU(ctx context.Context, path string) (*qemucaps.Caps, error) {
	if p.qemu == nil && p.qemuErr == nil {
		return &qemucaps.Caps{Path: path, Version: qemucaps.Version{Major: 7, Minor: 2, Micro: 22},
			VersionLine: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)",
			AIAModes:    []string{"none", "aplic", "aplic-imsic"}, Seccomp: true}, nil
	}
	return p.qemu, p.qemuErr
}

func (p *fakeProber) FirecrackerVersion(ctx context.Context, path string) (string, error) {
	return p.fcOutput, p.fcErr
}

func (p *fakeProber) LoadModule(ctx context.Context, name string) error {
	p.loaded = append(p.loaded, name)
	if p.loadModule != nil {
		return p.loadModule(name)
	}
	return errors.New("modprobe: FATAL: Module " + name + " not found")
}

// isRISCV64Test reports whether the tests run as riscv64 binaries, where the
// test binary itself is a riscv64 ELF.
func isRISCV64Test() bool { return runtime.GOARCH == "riscv64" }

// find returns the check named name, failing the test when it is absent.
func find(t *testing.T, r *Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	t.Fatalf("no check %q in the report; checks: %q", name, names)
	return Check{}
}

// golden compares got with testdata/golden/name after replacing the fake
// root with ROOT, and rewrites the file with -update.
func golden(t *testing.T, name, root, got string) {
	t.Helper()
	got = strings.ReplaceAll(got, root, "ROOT")
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update after checking the change)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
