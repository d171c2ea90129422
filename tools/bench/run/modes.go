package run

import (
	"context"
	"fmt"
	"time"
)

// runBareAndCold alternates bare boots and cold runs until both counts are
// done, so that a change in the machine's load affects both alike.
func (s *session) runBareAndCold(ctx context.Context) error {
	var bare, cold *Mode
	if s.opts.BareRuns > 0 {
		bare = newBareMode()
		s.results.Modes = append(s.results.Modes, bare)
	}
	if s.opts.ColdRuns > 0 {
		cold = newColdMode()
		s.results.Modes = append(s.results.Modes, cold)
	}

	for i := 1; i <= max(s.opts.BareRuns, s.opts.ColdRuns); i++ {
		if i <= s.opts.BareRuns {
			if err := s.bareRun(ctx, bare, i); err != nil {
				return err
			}
		}
		if i <= s.opts.ColdRuns {
			if err := s.coldRun(ctx, cold, i); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *session) bareRun(ctx context.Context, m *Mode, i int) error {
	t, err := s.bare.boot(ctx, fmt.Sprintf("%s-bare-%03d", s.prefix, i))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return s.failed(m, i, err)
	}

	m.Runs++
	m.add(metricAgentReady, t.AgentReady)
	m.add(metricStarted, t.Started)
	m.add(metricStop, t.Stop)
	s.results.Memory.BareQEMURSSKiB = max(s.results.Memory.BareQEMURSSKiB, t.QEMURSSKiB)
	s.progress("bare %d/%d: QEMU running %v, agent ready %v, stop %v, QEMU RSS %d MiB",
		i, s.opts.BareRuns, ms(t.Started), ms(t.AgentReady), ms(t.Stop), t.QEMURSSKiB/1024)
	return nil
}

func (s *session) coldRun(ctx context.Context, m *Mode, i int) error {
	id := fmt.Sprintf("%s-cold-%03d", s.prefix, i)
	c, g, err := s.stack.runTimed(ctx, s.opts.RunTimeout,
		"run", "--rm", "--runtime", runtimeName, "--runtime-config-path", s.stack.kataConfig,
		"--rootfs", s.stack.rootfs, id, "/benchguest", "mark")
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		// A failed `ctr run --rm` may leave its container behind.
		if rmErr := s.stack.removeContainer(id); rmErr != nil {
			s.opts.Log.WithError(rmErr).WithField("container", id).Warn("removing a failed cold run's container failed")
		}
		return s.failed(m, i, err)
	}

	m.Runs++
	m.add(metricFirstOutput, c.FirstOutput)
	m.add(metricExit, c.Exit)
	m.add(metricUptime, g.Uptime)
	m.add(metricAge, g.ProcessAge)

	// Wall-clock times of the same host: the shim's log line and ctr's
	// start plus the first output's latency.
	shimOutput := time.Duration(0)
	if created, err := shimCreateTime(s.stack.logPath, id); err == nil {
		shimOutput = c.Start.Add(c.FirstOutput).Sub(created)
		m.add(metricShimOutput, shimOutput)
	} else {
		s.opts.Log.WithError(err).WithField("container", id).Warn("shim Create time not found; the run has no shim_create_to_first_output sample")
	}
	s.progress("cold %d/%d: first output %v (%v after the shim's Create), exit %v; in the guest: uptime %v, process %v",
		i, s.opts.ColdRuns, ms(c.FirstOutput), ms(shimOutput), ms(c.Exit), ms(g.Uptime), ms(g.ProcessAge))
	return nil
}

// runWarm starts one sandbox with a sleeping process and times execs into it.
func (s *session) runWarm(ctx context.Context) error {
	if s.opts.WarmRuns == 0 {
		return nil
	}
	m := newWarmMode()
	s.results.Modes = append(s.results.Modes, m)

	id := s.prefix + "-warm"
	start := time.Now()
	_, err := s.stack.ctr(ctx, "run", "--detach", "--runtime", runtimeName, "--runtime-config-path", s.stack.kataConfig,
		"--rootfs", s.stack.rootfs, id, "/benchguest", "sleep", "86400")
	if err != nil {
		return fmt.Errorf("starting the warm sandbox: %w", err)
	}
	defer func() {
		if err := s.stack.removeContainer(id); err != nil {
			s.opts.Log.WithError(err).WithField("container", id).Warn("removing the warm sandbox failed")
		}
	}()
	s.progress("warm: sandbox %s running after %v", id, ms(time.Since(start)))

	for i := 1; i <= s.opts.WarmRuns; i++ {
		c, g, err := s.stack.runTimed(ctx, s.opts.RunTimeout,
			"task", "exec", "--exec-id", fmt.Sprintf("exec-%03d", i), id, "/benchguest", "mark")
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if err := s.failed(m, i, err); err != nil {
				return err
			}
			continue
		}
		m.Runs++
		m.add(metricFirstOutput, c.FirstOutput)
		m.add(metricExit, c.Exit)
		m.add(metricAge, g.ProcessAge)
		s.progress("warm %d/%d: first output %v, exit %v; in the guest: process %v",
			i, s.opts.WarmRuns, ms(c.FirstOutput), ms(c.Exit), ms(g.ProcessAge))
	}

	s.measureSandboxMemory(id)
	return nil
}

// measureSandboxMemory reads the RSS of the shim of sandbox id and of its
// QEMU child. A failure is logged and leaves the figures out.
func (s *session) measureSandboxMemory(id string) {
	log := s.opts.Log.WithField("sandbox", id)
	shimPID, err := findShim("/proc", s.stack.address, id)
	if err != nil {
		log.WithError(err).Warn("shim RSS not measured")
		return
	}
	shim, err := readMemory("/proc", shimPID)
	if err != nil {
		log.WithError(err).Warn("shim RSS not measured")
		return
	}
	s.results.Memory.Shim = &shim
	s.progress("warm: shim pid %d RSS %d KiB (peak %d KiB)", shimPID, shim.RSSKiB, shim.HWMKiB)

	qemuPID, err := findChild("/proc", shimPID, "qemu-system")
	if err != nil {
		log.WithError(err).Warn("QEMU RSS not measured")
		return
	}
	qemu, err := readMemory("/proc", qemuPID)
	if err != nil {
		log.WithError(err).Warn("QEMU RSS not measured")
		return
	}
	s.results.Memory.SandboxQEMU = &qemu
	s.progress("warm: QEMU pid %d RSS %d MiB (peak %d MiB)", qemuPID, qemu.RSSKiB/1024, qemu.HWMKiB/1024)
}

// ms rounds d to milliseconds for progress lines.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
