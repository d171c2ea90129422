package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/cgroupstats"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/container"
)

// oomPollInterval is how often the agent reads memory.events of each
// running container.
const oomPollInterval = time.Second

// oomQueue is the number of OOM events kept for GetOOMEvent; more are
// dropped with a log line.
const oomQueue = 64

// watchOOM reports each increase of the container's oom_kill count on
// s.oomEvents until its init process exits.
func (s *Sandbox) watchOOM(c *container.Container) {
	log := s.log.WithField("container", c.ID)
	dir, err := s.cfg.Cgroups.CgroupDir(c.Init().Pid())
	if err != nil {
		log.WithError(err).Warn("not watching the container for OOM kills")
		return
	}
	last, err := cgroupstats.OOMKills(dir)
	if err != nil {
		log.WithError(err).Warn("not watching the container for OOM kills")
		return
	}

	ticker := time.NewTicker(oomPollInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.Init().Exited():
			// A kill that ended the container is counted before the exit.
			s.checkOOM(c.ID, dir, &last)
			return
		case <-ticker.C:
			s.checkOOM(c.ID, dir, &last)
		}
	}
}

func (s *Sandbox) checkOOM(id, dir string, last *uint64) {
	kills, err := cgroupstats.OOMKills(dir)
	if err != nil || kills <= *last {
		return
	}
	*last = kills
	s.log.WithField("container", id).Warn("the OOM killer killed a process of the container")
	select {
	case s.oomEvents <- id:
	default:
		s.log.WithField("container", id).Error("dropping an OOM event: the host is not reading them")
	}
}

// WaitOOMEvent returns the id of the next container in which the OOM killer
// killed a process, waiting until ctx ends.
func (s *Sandbox) WaitOOMEvent(ctx context.Context) (string, error) {
	select {
	case id := <-s.oomEvents:
		return id, nil
	case <-ctx.Done():
		return "", fmt.Errorf("waiting for an OOM event: %w", ctx.Err())
	}
}
