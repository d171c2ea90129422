package containerdshim

import (
	"context"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/protobuf"
	"github.com/sirupsen/logrus"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Delete removes an exited exec process, or a task: its container leaves the
// guest, and with the last container the sandbox and its VM go too.
func (s *service) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	log := s.log.WithFields(logrus.Fields{"container": r.ID, "exec": r.ExecID})
	log.Info("delete")

	if r.ExecID == "" {
		s.cancelCreates(r.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	c, p, err := s.getProcess(r.ID, r.ExecID)
	if err != nil {
		return nil, toTTRPC(err)
	}
	state, status, exitedAt := p.snapshot()
	if state == stateRunning {
		return nil, toTTRPC(failedPrecondition("process %q of container %s is still running; kill it first", r.ExecID, r.ID))
	}
	if exitedAt.IsZero() {
		exitedAt = time.Now()
	}
	pid := s.vmmPID()

	if r.ExecID != "" {
		delete(c.execs, r.ExecID)
		return &taskAPI.DeleteResponse{Pid: pid, ExitStatus: status, ExitedAt: protobuf.ToTimestamp(exitedAt)}, nil
	}

	if err := c.vc.Delete(ctx); err != nil {
		log.WithError(err).Warn("removing container from the guest")
	}
	delete(s.containers, r.ID)
	if len(s.containers) == 0 {
		s.stopSandbox(ctx)
	}

	s.events.send(&eventstypes.TaskDelete{
		ContainerID: r.ID,
		Pid:         pid,
		ExitStatus:  status,
		ExitedAt:    protobuf.ToTimestamp(exitedAt),
	})
	return &taskAPI.DeleteResponse{Pid: pid, ExitStatus: status, ExitedAt: protobuf.ToTimestamp(exitedAt)}, nil
}

// Shutdown ends the shim process once it runs no container any more.
func (s *service) Shutdown(ctx context.Context, r *taskAPI.ShutdownRequest) (*emptypb.Empty, error) {
	if r.Now {
		s.cancelCreates("")
	}
	s.mu.Lock()
	remaining := len(s.containers)
	s.mu.Unlock()

	if remaining > 0 && !r.Now {
		s.log.WithField("containers", remaining).Debug("shutdown ignored: containers remain")
		return &emptypb.Empty{}, nil
	}

	s.mu.Lock()
	s.stopSandbox(ctx)
	s.mu.Unlock()

	s.log.Info("shim shutting down")
	s.events.close(5 * time.Second)
	s.shutdown()
	return &emptypb.Empty{}, nil
}
