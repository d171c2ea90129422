//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestEnvRiscv64UnderQEMUUser builds kata-runtime for riscv64 and runs
// "env" under user-mode emulation with the shipped QEMU configuration, as a
// user of a riscv64 build would.
func TestEnvRiscv64UnderQEMUUser(t *testing.T) {
	emulator, err := exec.LookPath("qemu-riscv64-static")
	if err != nil {
		t.Skip("needs qemu-riscv64-static (Debian package qemu-user-static)")
	}

	bin := filepath.Join(t.TempDir(), "kata-runtime")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOARCH=riscv64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building for riscv64: %v\n%s", err, out)
	}

	cmd := exec.Command(emulator, bin, "--config", shippedQEMUConfig, "env")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kata-runtime env: %v", err)
	}

	var report struct {
		Hypervisor struct{ Path, Accelerator string }
		Host       struct {
			Architecture       string
			VMContainerCapable bool
		}
	}
	if _, err := toml.Decode(string(out), &report); err != nil {
		t.Fatalf("output does not decode as TOML: %v\n%s", err, out)
	}
	if report.Host.Architecture != "riscv64" {
		t.Errorf("Host.Architecture = %q, want riscv64", report.Host.Architecture)
	}
	if report.Hypervisor.Path != "/usr/bin/qemu-system-riscv64" || report.Hypervisor.Accelerator != "kvm" {
		t.Errorf("Hypervisor = %+v, want the shipped QEMU path and kvm", report.Hypervisor)
	}
	// QEMU 7.2's user-mode emulation shows the build host's /proc/cpuinfo,
	// which has no riscv64 ISA line, so the host cannot be capable.
	if report.Host.VMContainerCapable {
		t.Error("Host.VMContainerCapable = true under qemu-user, want false")
	}
}
