package kvm

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// kernelArch returns the machine the kernel runs on. Under qemu-user,
// uname reports the emulated machine, but /proc/sys/kernel/arch does not.
func kernelArch(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/arch")
	if err != nil {
		t.Skipf("cannot read /proc/sys/kernel/arch (needs Linux 6.1 or later): %v", err)
	}
	return strings.TrimSpace(string(b))
}

var goarchToMachine = map[string]string{"amd64": "x86_64", "arm64": "aarch64", "riscv64": "riscv64"}

// requireKVM skips unless /dev/kvm can be opened read-write by a native
// binary: qemu-user does not pass KVM ioctls through.
func requireKVM(t *testing.T) {
	t.Helper()
	if m := kernelArch(t); m != goarchToMachine[runtime.GOARCH] {
		t.Skipf("needs a native binary: this %s test runs under user-mode emulation on a %s kernel, which does not pass KVM ioctls through", runtime.GOARCH, m)
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("needs read-write access to /dev/kvm: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestProbeRealKVM(t *testing.T) {
	requireKVM(t)

	r, err := Probe("/dev/kvm")
	if err != nil {
		t.Fatalf("Probe(/dev/kvm): %v (result so far %+v)", err, r)
	}
	if r.APIVersion != APIVersion {
		t.Errorf("APIVersion = %d, want %d", r.APIVersion, APIVersion)
	}
	if !r.VMCreated {
		t.Error("VMCreated = false after a successful probe")
	}
	if !r.VCPUCreated {
		t.Error("VCPUCreated = false after a successful probe")
	}
	if got := r.Capability("KVM_CAP_MAX_VCPUS"); got < 1 {
		t.Errorf("KVM_CAP_MAX_VCPUS = %d, want at least 1", got)
	}
	if got := r.Capability("KVM_CAP_USER_MEMORY"); got != 1 {
		t.Errorf("KVM_CAP_USER_MEMORY = %d, want 1", got)
	}
	if runtime.GOARCH != "riscv64" {
		if r.AIAIrqchip {
			t.Errorf("AIAIrqchip = true on a %s host, which has no RISC-V AIA device", runtime.GOARCH)
		}
		if !errors.Is(r.AIAError, unix.ENODEV) {
			t.Errorf("AIAError = %v, want ENODEV", r.AIAError)
		}
	}
	t.Logf("KVM on %s: capabilities %v, AIA irqchip %v (%v)", runtime.GOARCH, r.Capabilities, r.AIAIrqchip, r.AIAError)
}

func TestProbeMissingDevice(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kvm")
	r, err := Probe(dev)
	if !errors.Is(err, ErrOpen) {
		t.Fatalf("Probe(%s) error = %v, want ErrOpen", dev, err)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Probe(%s) error = %v, want it to wrap ENOENT", dev, err)
	}
	if r.VMCreated || r.VCPUCreated {
		t.Errorf("result %+v claims progress past a failed open", r)
	}
}

// TestProbeNotKVMDevice opens /dev/null, which rejects every KVM ioctl.
func TestProbeNotKVMDevice(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skipf("needs /dev/null: %v", err)
	}
	r, err := Probe("/dev/null")
	if !errors.Is(err, ErrAPIVersion) {
		t.Fatalf("Probe(/dev/null) error = %v, want ErrAPIVersion", err)
	}
	if r.VMCreated {
		t.Error("VMCreated = true for /dev/null")
	}
}

func TestProbeVhostVsockMissing(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "vhost-vsock")
	if _, err := ProbeVhostVsock(dev); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ProbeVhostVsock(%s) error = %v, want ENOENT", dev, err)
	}
}

func TestProbeVhostVsockNotVhost(t *testing.T) {
	r, err := ProbeVhostVsock("/dev/null")
	if err != nil {
		t.Fatalf("ProbeVhostVsock(/dev/null): %v", err)
	}
	if r.FeaturesError == nil {
		t.Errorf("FeaturesError = nil for /dev/null, features %#x", r.Features)
	}
}

func TestProbeRealVhostVsock(t *testing.T) {
	if m := kernelArch(t); m != goarchToMachine[runtime.GOARCH] {
		t.Skipf("needs a native binary: qemu-user on a %s kernel does not pass vhost ioctls through", m)
	}
	if _, err := os.Stat("/dev/vhost-vsock"); err != nil {
		t.Skipf("needs /dev/vhost-vsock (module vhost_vsock): %v", err)
	}
	r, err := ProbeVhostVsock("/dev/vhost-vsock")
	if err != nil {
		t.Fatalf("ProbeVhostVsock: %v", err)
	}
	if r.FeaturesError != nil {
		t.Fatalf("VHOST_GET_FEATURES: %v", r.FeaturesError)
	}
	// VIRTIO_F_VERSION_1 (bit 32) is offered by every vhost-vsock driver.
	if r.Features&(1<<32) == 0 {
		t.Errorf("Features = %#x, want VIRTIO_F_VERSION_1 (bit 32)", r.Features)
	}
}
