package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// healthRetryInterval is the pause between two failed health checks; the
// shim's sandbox start uses the same.
const healthRetryInterval = 100 * time.Millisecond

// bareTimes are the timings of one bare boot.
type bareTimes struct {
	// Started is from the call to StartVM until QEMU reports the guest
	// running over QMP.
	Started time.Duration
	// AgentReady is from the call to StartVM until the agent returns
	// SERVING to a Health Check.
	AgentReady time.Duration
	// Stop is the duration of StopVM.
	Stop time.Duration
	// QEMURSSKiB is QEMU's VmRSS at agent-ready.
	QEMURSSKiB uint64
}

// bareBooter boots the guest of a Kata configuration without containerd,
// shim or container: QEMU with the command line the shim's backend builds
// from the same configuration, then the agent's Health Check.
type bareBooter struct {
	cfg     *config.Config
	runRoot string
	// prober is shared between the boots, so that QEMU's feature probe
	// (four short QEMU runs) happens once and is not counted in the boot.
	prober vc.QEMUProber
	opts   Options
}

func newBareBooter(kataConfig, runRoot string, o Options) (*bareBooter, error) {
	cfg, err := config.LoadFile(kataConfig)
	if err != nil {
		return nil, fmt.Errorf("loading the benchmark's Kata configuration: %w", err)
	}
	if cfg.HypervisorType != vc.QemuHypervisor {
		return nil, fmt.Errorf("configuration %s uses hypervisor %q: the bare boot supports only qemu", kataConfig, cfg.HypervisorType)
	}
	return &bareBooter{cfg: cfg, runRoot: runRoot, prober: vc.NewExecQEMUProber(), opts: o}, nil
}

// boot starts one VM, waits for its agent and stops it again. The VM is
// stopped on every path, including a cancelled ctx.
func (b *bareBooter) boot(ctx context.Context, id string) (t bareTimes, err error) {
	q, err := vc.NewQemu(id, b.cfg.Hypervisor, b.cfg.Agent,
		vc.WithRunRoot(b.runRoot), vc.WithQEMUProber(b.prober), vc.WithLogger(b.opts.Log.WithField("subsystem", "qemu")))
	if err != nil {
		return t, fmt.Errorf("bare boot %s: %w", id, err)
	}

	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		stopStart := time.Now()
		stopErr := q.StopVM(stopCtx)
		t.Stop = time.Since(stopStart)
		if stopErr != nil {
			err = errors.Join(err, fmt.Errorf("stopping bare VM %s: %w", id, stopErr))
		}
	}()

	start := time.Now()
	if err := q.StartVM(ctx); err != nil {
		return t, fmt.Errorf("bare boot %s: %w", id, err)
	}
	t.Started = time.Since(start)

	if err := waitForHealth(ctx, q, b.cfg.Agent.DialTimeout); err != nil {
		return t, fmt.Errorf("bare boot %s: %w; console log: %s", id, err, q.ConsoleLogPath())
	}
	t.AgentReady = time.Since(start)

	if pids := q.PIDs(); len(pids) > 0 {
		if rss, err := readVmRSS(pids[0]); err == nil {
			t.QEMURSSKiB = rss
		} else {
			b.opts.Log.WithError(err).WithField("pid", pids[0]).Warn("reading QEMU's RSS failed")
		}
	}
	return t, nil
}

// waitForHealth dials the agent once and repeats its Health Check until it
// returns SERVING, as the shim does, within timeout.
func waitForHealth(ctx context.Context, h vc.Hypervisor, timeout time.Duration) error {
	url, err := h.AgentURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	c, err := client.Dial(ctx, url)
	if err != nil {
		return fmt.Errorf("agent at %s did not accept a connection within %v: %w", url, timeout, err)
	}
	defer c.Close()

	for {
		resp, err := c.Health.Check(ctx, &grpc.CheckRequest{})
		if err == nil && resp.Status == grpc.HealthCheckResponse_SERVING {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("health status %v", resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("agent at %s not healthy within %v: %w", url, timeout, err)
		case <-h.Exited():
			return fmt.Errorf("waiting for the agent at %s: %w", url, vc.ErrVMExited)
		case <-time.After(healthRetryInterval):
		}
	}
}
