package virtcontainers

import (
	"context"
	"time"

	"github.com/sirupsen/logrus"
)

// StopVM implements Hypervisor. It requests a guest power-down
// (system_powerdown), then QEMU's exit (quit), then kills QEMU, waiting part of
// the stop timeout (or of ctx's deadline, when sooner) after each step. It
// then removes the VM's directory.
//
// NOTE: QEMU's riscv64 virt machine has neither ACPI nor a power button, and
// with QEMU 7.2 under TCG the guest did not react to system_powerdown, so
// StopVM spends defaultPowerdownWindow before it sends quit. The sandbox
// layer shuts containers down through the agent before it stops the VM.
func (q *Qemu) StopVM(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()

	switch q.state {
	case vmCreated:
		q.state = vmStopped
		q.closeExited()
		return nil
	case vmStopped:
		return nil
	}

	budget := q.stopTimeout
	if deadline, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(deadline))
	}
	powerdownWindow := min(defaultPowerdownWindow, budget/2)
	quitWindow := budget - powerdownWindow

	res := q.res
	log := q.log.WithField("pid", res.qemu.pid())
	steps := []struct {
		command string
		window  time.Duration
	}{
		{"system_powerdown", powerdownWindow},
		{"quit", quitWindow},
	}
	for _, step := range steps {
		if res.qemu.hasExited() {
			break
		}
		cmdCtx, cancel := context.WithTimeout(context.Background(), step.window)
		err := res.qmp.execute(cmdCtx, step.command, nil, nil)
		cancel()
		if err != nil && !res.qemu.hasExited() {
			log.WithError(err).WithField("command", step.command).Warn("QMP stop command failed")
		}
		if res.qemu.waitExit(step.window) {
			log.WithField("command", step.command).Info("QEMU stopped")
			break
		}
	}
	if !res.qemu.hasExited() {
		log.WithField("timeout", budget).Warn("QEMU did not stop in time; killing it")
	}

	q.release(res)
	q.state = vmStopped
	q.res = nil
	// QEMU is gone once release returns; close Exited now rather than when
	// watchExit gets to it, so callers see it closed as StopVM returns.
	q.closeExited()
	q.log.WithFields(logrus.Fields{"status": res.qemu.exitStatus()}).Info("VM stopped")
	return nil
}
