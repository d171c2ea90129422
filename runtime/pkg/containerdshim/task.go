package containerdshim

import (
	"context"
	"fmt"
	"os"
	"syscall"

	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/protobuf"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/types/known/emptypb"
)

// State returns a task's or exec process's status.
func (s *service) State(ctx context.Context, r *taskAPI.StateRequest) (*taskAPI.StateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, toTTRPC(err)
	}
	state, status, exitedAt := p.snapshot()
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()

	taskStatus := state.taskStatus()
	if paused && state == stateRunning {
		taskStatus = task.Status_PAUSED
	}
	resp := &taskAPI.StateResponse{
		ID:         r.ID,
		ExecID:     r.ExecID,
		Bundle:     c.bundle,
		Pid:        s.vmmPID(),
		Status:     taskStatus,
		Stdin:      p.stdio.stdin,
		Stdout:     p.stdio.stdout,
		Stderr:     p.stdio.stderr,
		Terminal:   p.stdio.terminal,
		ExitStatus: status,
	}
	if !exitedAt.IsZero() {
		resp.ExitedAt = protobuf.ToTimestamp(exitedAt)
	}
	return resp, nil
}

// Kill signals a task's or exec process's process in the guest.
func (s *service) Kill(ctx context.Context, r *taskAPI.KillRequest) (*emptypb.Empty, error) {
	s.log.WithFields(logrus.Fields{"container": r.ID, "exec": r.ExecID, "signal": r.Signal}).Info("kill")

	s.mu.Lock()
	c, p, err := s.getProcess(r.ID, r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, toTTRPC(err)
	}

	switch state, _, _ := p.snapshot(); state {
	case stateStopped:
		return nil, toTTRPC(notFound("process %q of container %s has exited already", r.ExecID, r.ID))
	case stateCreated:
		// Nothing runs in the guest yet; containerd kills created tasks
		// when their start fails, and expects them to be stopped.
		if r.ExecID == "" {
			p.setExited(128 + r.Signal)
			return &emptypb.Empty{}, nil
		}
	}

	if err := c.vc.Signal(ctx, r.ExecID, syscall.Signal(r.Signal), r.All); err != nil {
		return nil, toTTRPC(err)
	}
	return &emptypb.Empty{}, nil
}

// Pids lists the task's processes: the VMM, as the guest's pids are not
// host pids.
func (s *service) Pids(ctx context.Context, r *taskAPI.PidsRequest) (*taskAPI.PidsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if _, err := s.getContainer(r.ID); err != nil {
		return nil, toTTRPC(err)
	}
	return &taskAPI.PidsResponse{Processes: []*task.ProcessInfo{{Pid: s.vmmPID()}}}, nil
}

// ResizePty resizes the terminal of a process started with one.
func (s *service) ResizePty(ctx context.Context, r *taskAPI.ResizePtyRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	_, p, err := s.getProcess(r.ID, r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, toTTRPC(err)
	}
	if !p.stdio.terminal {
		return nil, toTTRPC(failedPrecondition("process %q of container %s has no terminal", r.ExecID, r.ID))
	}
	if err := s.sandbox.Agent().ResizeTTY(ctx, r.ID, r.ExecID, r.Height, r.Width); err != nil {
		return nil, toTTRPC(err)
	}
	return &emptypb.Empty{}, nil
}

// CloseIO closes a process's stdin once what containerd wrote is delivered.
func (s *service) CloseIO(ctx context.Context, r *taskAPI.CloseIORequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	_, p, err := s.getProcess(r.ID, r.ExecID)
	s.mu.Unlock()
	if err != nil {
		return nil, toTTRPC(err)
	}

	p.mu.Lock()
	pio := p.io
	p.mu.Unlock()
	if r.Stdin && pio != nil {
		pio.finishStdin()
	}
	return &emptypb.Empty{}, nil
}

// Pause freezes the sandbox's VM.
//
// NOTE: the whole sandbox pauses, because this runtime does not send the
// agent's PauseContainer. In a pod, every container pauses with the one
// named in the request.
func (s *service) Pause(ctx context.Context, r *taskAPI.PauseRequest) (*emptypb.Empty, error) {
	return s.setPaused(ctx, r.ID, true)
}

// Resume thaws the sandbox's VM.
func (s *service) Resume(ctx context.Context, r *taskAPI.ResumeRequest) (*emptypb.Empty, error) {
	return s.setPaused(ctx, r.ID, false)
}

func (s *service) setPaused(ctx context.Context, id string, pause bool) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	c, err := s.getContainer(id)
	if err != nil {
		return nil, toTTRPC(err)
	}
	if pause {
		err = s.sandbox.Hypervisor().PauseVM(ctx)
	} else {
		err = s.sandbox.Hypervisor().ResumeVM(ctx)
	}
	if err != nil {
		return nil, toTTRPC(err)
	}

	for _, other := range s.containers {
		other.init.mu.Lock()
		other.init.paused = pause
		other.init.mu.Unlock()
	}
	if pause {
		s.events.send(&eventstypes.TaskPaused{ContainerID: c.id})
	} else {
		s.events.send(&eventstypes.TaskResumed{ContainerID: c.id})
	}
	return &emptypb.Empty{}, nil
}

// Checkpoint is not supported: VM sandboxes are not checkpointed.
func (s *service) Checkpoint(ctx context.Context, r *taskAPI.CheckpointTaskRequest) (*emptypb.Empty, error) {
	return nil, toTTRPC(fmt.Errorf("checkpoint of container %s: %w", r.ID, errdefs.ErrNotImplemented))
}

// Connect returns the shim's and the task's pids.
func (s *service) Connect(ctx context.Context, r *taskAPI.ConnectRequest) (*taskAPI.ConnectResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &taskAPI.ConnectResponse{ShimPid: uint32(os.Getpid()), TaskPid: s.vmmPID()}, nil
}
