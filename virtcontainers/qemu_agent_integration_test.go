//go:build integration

package virtcontainers

import (
	"context"
	"errors"
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
	defer q.StopVM(ctx)

	start := time.Now()
	if err := StartVMAndWaitForAgent(ctx, q, healthCheck, agentBootTimeout); err != nil {
		t.Fatalf("agent not ready: %v\nconsole:\n%s", err, fileTail(q.ConsoleLogPath(), 4096))
	}
	url, _ := q.AgentURL()
	t.Logf("agent at %s ready %v after launch", url, time.Since(start).Round(time.Millisecond))

	if err := healthCheck(ctx, url); err != nil {
		t.Errorf("second Health Check: %v", err)
	}
	if err := q.StopVM(ctx); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	assertNothingLeft(t, runRoot)
}
