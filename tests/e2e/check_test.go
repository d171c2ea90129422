//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const capableLine = "System is capable of running Kata Containers"

// writeCheckConfig writes a configuration for the QEMU hypervisor whose
// files exist on this host: the riscv64 QEMU, the host's own kernel as the
// guest kernel and a small initrd made by the test. The check then judges the
// host and not the guest assets, which 'make e2e' does not build.
func writeCheckConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	qemu, err := exec.LookPath("qemu-system-riscv64")
	if err != nil {
		t.Skip("needs qemu-system-riscv64 (Debian package qemu-system-riscv) for the configuration under check")
	}
	initrd := filepath.Join(dir, "initrd.cpio.gz")
	writeInitramfs(t, staticBusybox(t), "kata-e2e-check", initrd)

	config := fmt.Sprintf(`[hypervisor.qemu]
path = %q
valid_hypervisor_paths = [%q]
kernel = %q
initrd = %q
machine_type = "virt"
accelerator = "kvm"
shared_fs = "virtio-9p"

[agent.kata]

[runtime]
`, qemu, qemu, guestKernel(t), initrd)
	path := filepath.Join(dir, "configuration.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatalf("writing the configuration: %v", err)
	}
	return path
}

// runCheck runs 'kata-runtime check --verbose', which lists every check as
// "RESULT  name: reason", and returns its combined output and exit code.
func runCheck(t *testing.T) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	config := writeCheckConfig(t)
	out, err := exec.CommandContext(ctx, binary(t, "kata-runtime"), "--config", config, "check", "--verbose").CombinedOutput()
	t.Logf("kata-runtime check output:\n%s", out)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr):
		return string(out), exitErr.ExitCode()
	default:
		t.Fatalf("running kata-runtime check: %v", err)
		return "", -1
	}
}

func TestKataRuntimeCheck(t *testing.T) {
	if !hostHasH(t) {
		t.Skip("the host has no H extension (KATA_E2E_HOST_H=absent); TestKataRuntimeCheckWithoutH covers it")
	}
	requireRoot(t)

	out, code := runCheck(t)
	if code != 0 {
		t.Errorf("kata-runtime check exit code = %d, want 0", code)
	}
	if !strings.Contains(out, capableLine) {
		t.Errorf("kata-runtime check output lacks %q", capableLine)
	}
	for _, want := range passingChecks {
		if !want.MatchString(out) {
			t.Errorf("kata-runtime check output lacks a line matching %s", want)
		}
	}
}

// passingChecks are the verbose report lines of the host checks that a
// riscv64 host with the H extension and the Kata kernel modules passes.
var passingChecks = []*regexp.Regexp{
	regexp.MustCompile(`(?m)^PASS +cpu: .*H extension`),
	regexp.MustCompile(`(?m)^PASS +kvm: .*created a VM and a vCPU`),
	regexp.MustCompile(`(?m)^PASS +kernel module vhost_vsock: `),
}

// missingHRE matches a message that names the missing H extension.
var missingHRE = regexp.MustCompile(`(?i)\bH[- ]extension|hypervisor extension`)

// failedCPURE matches the verbose report line of the failed CPU check.
var failedCPURE = regexp.MustCompile(`(?m)^FAIL +cpu: `)

func TestKataRuntimeCheckWithoutH(t *testing.T) {
	if hostHasH(t) {
		t.Skip("the host has the H extension; 'hostvm e2e' runs this test in a second boot with h=false")
	}
	requireRoot(t)

	out, code := runCheck(t)
	if code != 1 {
		t.Errorf("kata-runtime check exit code = %d, want 1", code)
	}
	if !failedCPURE.MatchString(out) {
		t.Errorf("kata-runtime check output lacks a line matching %s", failedCPURE)
	}
	if !missingHRE.MatchString(out) {
		t.Errorf("kata-runtime check output does not name the missing H extension (want a match for %s)", missingHRE)
	}
	if strings.Contains(out, capableLine) {
		t.Errorf("kata-runtime check output claims %q on a host without H", capableLine)
	}
}
