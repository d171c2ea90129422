package containerdshim

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

func TestToTTRPCCodes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"container not found", fmt.Errorf("container c1: %w", vc.ErrContainerNotFound), codes.NotFound},
		{"container exists", fmt.Errorf("task c1: %w", vc.ErrContainerExists), codes.AlreadyExists},
		{"invalid id", fmt.Errorf("id a/b: %w", vc.ErrInvalidID), codes.InvalidArgument},
		{"rootfs missing", fmt.Errorf("c1: %w", vc.ErrRootfsNotFound), codes.InvalidArgument},
		{"no shared filesystem", fmt.Errorf("c1: %w", vc.ErrNoSharedFilesystem), codes.Unimplemented},
		{"not found helper", notFound("exec %s", "e1"), codes.NotFound},
		{"precondition helper", failedPrecondition("process %s running", "p"), codes.FailedPrecondition},
		{"agent status kept", status.Error(codes.ResourceExhausted, "agent is full"), codes.ResourceExhausted},
		{"plain error", errors.New("boom"), codes.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := status.Code(toTTRPC(tt.err))
			if got != tt.want {
				t.Errorf("code = %s, want %s", got, tt.want)
			}
		})
	}
	if toTTRPC(nil) != nil {
		t.Error("toTTRPC(nil) != nil")
	}
}

func TestExecOrContainerID(t *testing.T) {
	if got := execOrContainerID("c1", ""); got != "c1" {
		t.Errorf("init process id = %q, want c1", got)
	}
	if got := execOrContainerID("c1", "e1"); got != "e1" {
		t.Errorf("exec process id = %q, want e1", got)
	}
}

func TestProcessExitIsRecordedOnce(t *testing.T) {
	p := newProcess("c1", "", stdio{})
	p.setRunning()
	p.setExited(42)
	p.setExited(1)

	state, code, at := p.snapshot()
	if state != stateStopped || code != 42 || at.IsZero() {
		t.Errorf("snapshot = %v, %d, %v; want stopped, 42 and an exit time", state, code, at)
	}
	select {
	case <-p.exited:
	default:
		t.Error("exited channel not closed")
	}
}
