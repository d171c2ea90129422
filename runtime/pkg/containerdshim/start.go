package containerdshim

import (
	"context"
	"syscall"

	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/protobuf"
	"github.com/sirupsen/logrus"
)

// Start starts a created task or exec process.
func (s *service) Start(ctx context.Context, r *taskAPI.StartRequest) (*taskAPI.StartResponse, error) {
	log := s.log.WithFields(logrus.Fields{"container": r.ID, "exec": r.ExecID})
	log.Info("start")

	s.mu.Lock()
	defer s.mu.Unlock()

	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, toTTRPC(err)
	}
	if st, _, _ := p.snapshot(); st != stateCreated {
		return nil, toTTRPC(failedPrecondition("process %q of container %s was started already", r.ExecID, r.ID))
	}

	if r.ExecID == "" {
		err = c.vc.Start(ctx)
	} else {
		err = c.vc.Exec(ctx, r.ExecID, p.spec)
	}
	if err != nil {
		return nil, toTTRPC(err)
	}

	// The copies start once the agent has the process. Until then the agent
	// buffers the process's output, so none is lost.
	pio, err := startIO(ctx, log, p, c.vc.Streams(r.ExecID))
	if err != nil {
		if kerr := c.vc.Signal(ctx, r.ExecID, syscall.SIGKILL, false); kerr != nil {
			log.WithError(kerr).Warn("killing a process whose I/O could not be set up")
		}
		return nil, toTTRPC(err)
	}
	p.mu.Lock()
	p.io = pio
	p.mu.Unlock()
	p.setRunning()

	pid := s.vmmPID()
	go s.waitExit(c, p, pid)

	if r.ExecID == "" {
		s.events.send(&eventstypes.TaskStart{ContainerID: r.ID, Pid: pid})
	} else {
		s.events.send(&eventstypes.TaskExecStarted{ContainerID: r.ID, ExecID: r.ExecID, Pid: pid})
	}
	return &taskAPI.StartResponse{Pid: pid}, nil
}

// waitExit waits for process p to exit in the guest, drains its output,
// records the exit status and publishes TaskExit, in that order, so that
// containerd receives the exit only after the last output.
func (s *service) waitExit(c *container, p *process, pid uint32) {
	log := s.log.WithFields(logrus.Fields{"container": c.id, "exec": p.execID})

	code, err := c.vc.Wait(context.Background(), p.execID)
	status := uint32(code)
	if err != nil {
		// The agent or the VM is gone: the process is gone with it.
		log.WithError(err).Warn("waiting for process failed; reporting exit status 255")
		status = 255
	}

	p.mu.Lock()
	pio := p.io
	p.mu.Unlock()
	if pio != nil {
		pio.waitOutput()
		pio.closeStdinFifo()
	}

	p.setExited(status)
	_, _, exitedAt := p.snapshot()
	log.WithField("exit_status", status).Info("process exited")

	s.events.send(&eventstypes.TaskExit{
		ContainerID: c.id,
		ID:          execOrContainerID(c.id, p.execID),
		Pid:         pid,
		ExitStatus:  status,
		ExitedAt:    protobuf.ToTimestamp(exitedAt),
	})
}

// execOrContainerID returns the id containerd expects in TaskExit: the exec
// id for exec processes, the container id for the init process.
func execOrContainerID(containerID, execID string) string {
	if execID != "" {
		return execID
	}
	return containerID
}

// Wait blocks until the process exits and returns its exit status.
func (s *service) Wait(ctx context.Context, r *taskAPI.WaitRequest) (*taskAPI.WaitResponse, error) {
	s.mu.Lock()
	_, p, err := s.getProcess(r.ID, r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, toTTRPC(err)
	}

	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, toTTRPC(ctx.Err())
	}
	_, status, exitedAt := p.snapshot()
	return &taskAPI.WaitResponse{ExitStatus: status, ExitedAt: protobuf.ToTimestamp(exitedAt)}, nil
}
