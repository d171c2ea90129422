package containerdshim

// startMonitor serves the sandbox's monitor socket. The caller holds s.mu.
//
// TODO: serve /metrics, /agent-url and pprof through the shim monitor
// server once it is part of the tree.
func (s *service) startMonitor() {}

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
