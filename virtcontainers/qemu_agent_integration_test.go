//go:build integration

package virtcontainers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// agentAttemptTimeout bounds one dial and Health Check. Over a virtio-serial
// port a request sent before the agent opened the port is lost, so a stuck
// attempt is abandoned and the next one starts on a new connection.
const agentAttemptTimeout = 10 * time.Second

// agentBootTimeout bounds a TCG boot to agent-ready on a loaded 2-core x86
// machine.
const agentBootTimeout = 4 * time.Minute

// healthCheck dials the agent and runs the Health service's Check.
func healthCheck(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, agentAttemptTimeout)
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

// TestQemuBootToAgentHealth boots the initrd of `make guest`, whose PID 1 is
// the kata-agent, and waits for its Health Check over the agent channel:
// vsock where /dev/vhost-vsock exists, the virtio-serial port otherwise.
func TestQemuBootToAgentHealth(t *testing.T) {
	kernel, initrd := guestAssetsFromBuild(t)
	runRoot := t.TempDir()
	q, err := NewQemu("agent", bootConfig(t, kernel, initrd), AgentConfig{Channel: ChannelAuto},
		WithRunRoot(runRoot), WithStopTimeout(2*time.Second))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	ctx := context.Background()
	defer func() { _ = q.StopVM(ctx) }() // best-effort cleanup when the test ends early

	start := time.Now()
	if err := StartVMAndWaitForAgent(ctx, q, healthCheck, agentBootTimeout); err != nil {
		t.Fatalf("agent not ready: %v", err)
	}
	url, _ := q.AgentURL()
	t.Logf("agent at %s ready %v after launch", url, time.Since(start).Round(time.Millisecond))

	if err := q.StopVM(ctx); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	assertNothingLeft(t, runRoot)
}

// BenchmarkQemuLaunchToAgent measures launch to the agent's first
// successful Health Check through the backend. In the same run it times a
// bare qemu-system-riscv64 boot of the same kernel and initrd to the
// kernel's init marker, the last point a bare boot can observe. It needs the initrd
// of `make guest`, whose PID 1 is the agent. Run it with
//
//	go test -tags integration -run '^$' -bench BenchmarkQemuLaunchToAgent \
//	    -benchtime 5x ./virtcontainers/
func BenchmarkQemuLaunchToAgent(b *testing.B) {
	kernel, initrd := guestAssetsFromBuild(b)
	qemu := requireQEMU(b)
	ctx := context.Background()

	var bare, agent time.Duration
	for range b.N {
		d, _ := bootBare(b, qemu, kernel, initrd)
		bare += d

		cfg := bootConfig(b, kernel, initrd)
		cfg.AIA = AIANone
		start := time.Now()
		q, err := NewQemu("bench-agent", cfg, AgentConfig{Channel: ChannelAuto},
			WithRunRoot(b.TempDir()), WithLogger(quietLogger()), WithStopTimeout(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		if err := StartVMAndWaitForAgent(ctx, q, healthCheck, agentBootTimeout); err != nil {
			b.Fatal(err)
		}
		agent += time.Since(start)
		if err := q.StopVM(ctx); err != nil {
			b.Fatal(err)
		}
	}

	n := float64(b.N)
	b.ReportMetric(bare.Seconds()/n, "bare-marker-s")
	b.ReportMetric(agent.Seconds()/n, "backend-agent-s")
}

// TestQemuBootImageToAgentHealth boots the systemd image of `make guest`
// read-only over virtio-blk, with the boot initrd osbuilder writes beside it,
// and waits for the agent that kata-containers.target starts.
func TestQemuBootImageToAgentHealth(t *testing.T) {
	kernel, initrd := guestAssetsFromBuild(t)
	image := filepath.Join(filepath.Dir(initrd), "kata-containers.img")
	if _, err := os.Stat(image); err != nil {
		t.Skipf("needs the guest image (%v): run `make guest`", err)
	}
	cfg := bootConfig(t, kernel, "")
	cfg.ImagePath = image
	runRoot := t.TempDir()
	q, err := NewQemu("image", cfg, AgentConfig{Channel: ChannelAuto},
		WithRunRoot(runRoot), WithStopTimeout(2*time.Second))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	ctx := context.Background()
	defer func() { _ = q.StopVM(ctx) }() // best-effort cleanup when the test ends early

	start := time.Now()
	if err := StartVMAndWaitForAgent(ctx, q, healthCheck, agentBootTimeout); err != nil {
		t.Fatalf("agent not ready: %v", err)
	}
	t.Logf("agent ready %v after launch", time.Since(start).Round(time.Millisecond))

	if err := q.StopVM(ctx); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	assertNothingLeft(t, runRoot)
}
