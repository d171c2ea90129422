package containerdshim

import (
	"context"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// startMonitor serves the sandbox's monitor socket, which kata-monitor
// scrapes. A failure is logged, not returned: the sandbox runs without
// metrics rather than not at all. The caller holds s.mu.
func (s *service) startMonitor() {
	srv, err := shimmonitor.Start(shimmonitor.Config{
		SandboxesDir: s.paths.SandboxRoot,
		EnablePprof:  s.cfg.Runtime.EnablePprof,
		Logger:       s.log.WithField("subsystem", "monitor"),
	}, monitoredSandbox{s.sandbox})
	if err != nil {
		s.log.WithError(err).Error("starting the shim monitor socket; the sandbox runs without metrics")
		return
	}
	s.monitor = srv
}

// stopMonitor closes the monitor socket. The caller holds s.mu.
func (s *service) stopMonitor() {
	if s.monitor == nil {
		return
	}
	if err := s.monitor.Close(); err != nil {
		s.log.WithError(err).Warn("closing the shim monitor socket")
	}
	s.monitor = nil
}

// monitoredSandbox is the sandbox as the monitor server reads it.
type monitoredSandbox struct {
	sb *vc.Sandbox
}

func (m monitoredSandbox) ID() string                { return m.sb.ID() }
func (m monitoredSandbox) HypervisorPIDs() []int     { return m.sb.Hypervisor().PIDs() }
func (m monitoredSandbox) AgentURL() (string, error) { return m.sb.Hypervisor().AgentURL() }

func (m monitoredSandbox) AgentMetrics(ctx context.Context) (string, error) {
	return m.sb.Agent().Metrics(ctx)
}
