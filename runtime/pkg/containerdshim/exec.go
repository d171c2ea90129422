package containerdshim

import (
	"context"

	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Exec registers an exec process in a running container; Start runs it.
func (s *service) Exec(ctx context.Context, r *taskAPI.ExecProcessRequest) (*emptypb.Empty, error) {
	s.log.WithField("container", r.ID).WithField("exec", r.ExecID).Info("exec")

	s.mu.Lock()
	defer s.mu.Unlock()

	c, err := s.getContainer(r.ID)
	if err != nil {
		return nil, toTTRPC(err)
	}
	if st, _, _ := c.init.snapshot(); st != stateRunning {
		return nil, toTTRPC(failedPrecondition("container %s is not running, so exec %s cannot start in it", r.ID, r.ExecID))
	}
	if r.ExecID == "" {
		return nil, toTTRPC(invalidArgument("exec in container %s: missing exec id", r.ID))
	}
	if _, dup := c.execs[r.ExecID]; dup {
		return nil, toTTRPC(failedPrecondition("exec %s in container %s exists already", r.ExecID, r.ID))
	}
	if r.Spec == nil {
		return nil, toTTRPC(invalidArgument("exec %s in container %s: missing process spec", r.ExecID, r.ID))
	}

	v, err := typeurl.UnmarshalAny(r.Spec)
	if err != nil {
		return nil, toTTRPC(invalidArgument("exec %s in container %s: decoding process spec: %v", r.ExecID, r.ID, err))
	}
	spec, ok := v.(*specs.Process)
	if !ok {
		return nil, toTTRPC(invalidArgument("exec %s in container %s: process spec has type %T", r.ExecID, r.ID, v))
	}
	spec.Terminal = r.Terminal

	p := newProcess(r.ID, r.ExecID, stdio{stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, terminal: r.Terminal})
	p.spec = spec
	c.execs[r.ExecID] = p

	s.events.send(&eventstypes.TaskExecAdded{ContainerID: r.ID, ExecID: r.ExecID})
	return &emptypb.Empty{}, nil
}
