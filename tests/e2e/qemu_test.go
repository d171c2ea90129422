//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// rdtimeSIGILL is the kernel's report of PID 1 killed by an illegal
// instruction, as the console shows it. A guest's Go program dies so at its
// first user-mode read of the time CSR on a host without Sscofpmf.
const rdtimeSIGILL = "init[1]: unhandled signal 4"

// qemuAgentTimeout bounds a KVM boot to agent-ready inside the emulated host,
// where the outer TCG makes even a KVM guest slow.
const qemuAgentTimeout = 5 * time.Minute

// TestQemuBootsSandboxUnderKVM boots the kernel and agent initrd of `make
// guest` with the QEMU backend under KVM and waits for the agent's Health
// Check over vsock, or over the virtio-serial port where the host has no
// /dev/vhost-vsock.
func TestQemuBootsSandboxUnderKVM(t *testing.T) {
	requireRoot(t)
	if !hostHasH(t) {
		t.Skip("needs a host with the H extension")
	}
	qemu, err := exec.LookPath("qemu-system-riscv64")
	if err != nil {
		t.Skip("needs qemu-system-riscv64 (Debian package qemu-system-misc)")
	}
	guest := filepath.Join(buildDir(t), "guest")
	kernel := filepath.Join(guest, "vmlinux.container")
	initrd := filepath.Join(guest, "kata-containers-initrd.img")
	for _, p := range []string{kernel, initrd, "/dev/kvm"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s (%v): run `make guest` on the build host", p, err)
		}
	}

	cfg := vc.HypervisorConfig{
		Type:        vc.QemuHypervisor,
		Path:        qemu,
		KernelPath:  kernel,
		InitrdPath:  initrd,
		Accelerator: vc.AccelKVM,
		AIA:         vc.AIAAuto,
		MemoryMiB:   512,
		SharedFS:    vc.SharedFSNone,
		EnableDebug: true,
	}
	runRoot := t.TempDir()
	q, err := vc.NewQemu("e2e-qemu", cfg, vc.AgentConfig{Channel: vc.ChannelAuto}, vc.WithRunRoot(runRoot))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	ctx := context.Background()
	defer func() { _ = q.StopVM(ctx) }() // best-effort cleanup when the test ends early

	start := time.Now()
	err = vc.StartVMAndWaitForAgent(ctx, q, qemuHealthCheck, qemuAgentTimeout)
	if err != nil && strings.Contains(err.Error(), rdtimeSIGILL) {
		t.Fatalf("the guest's agent died with SIGILL (%q): a nested guest's user space cannot read the time CSR when the host CPU lacks Sscofpmf, because KVM then offers the guest no SBI PMU; hostvm enables sscofpmf, and kata-runtime check reports a host without it: %v", rdtimeSIGILL, err)
	}
	if err != nil {
		t.Fatalf("agent not ready: %v", err)
	}
	url, _ := q.AgentURL()
	t.Logf("agent at %s ready %v after launch", url, time.Since(start).Round(time.Millisecond))

	if err := q.StopVM(ctx); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	entries, err := os.ReadDir(runRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("run root still holds %s after StopVM", e.Name())
	}
}

// qemuHealthCheck dials the agent and runs Health.Check, giving up on one
// attempt after 10 s so that the caller retries on a new connection.
func qemuHealthCheck(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close()

	resp, err := c.Health.Check(ctx, &grpc.CheckRequest{})
	if err != nil {
		return err
	}
	if resp.Status != grpc.HealthCheckResponse_SERVING {
		return errors.New("agent health status " + resp.Status.String())
	}
	return nil
}
