package containerdshim

import (
	"sync"
	"time"

	"github.com/containerd/containerd/api/types/task"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// container is a containerd task and the guest container behind it.
type container struct {
	id     string
	bundle string
	spec   *specs.Spec
	vc     *vc.Container
	init   *process
	execs  map[string]*process
	// isSandbox marks the container that started the sandbox's VM.
	isSandbox bool
}

// processState is a task or exec process's lifecycle state.
type processState int

// The process states, in the only order a process moves through them.
const (
	stateCreated processState = iota
	stateRunning
	stateStopped
)

func (st processState) taskStatus() task.Status {
	switch st {
	case stateCreated:
		return task.Status_CREATED
	case stateRunning:
		return task.Status_RUNNING
	default:
		return task.Status_STOPPED
	}
}

// process is a container's init process or one of its exec processes.
type process struct {
	containerID string
	// execID is empty for the init process.
	execID string
	stdio  stdio
	// spec is the exec process's spec; nil for the init process.
	spec *specs.Process

	// exited is closed once the process has exited and its output is drained.
	exited chan struct{}

	// mu guards the fields below.
	mu       sync.Mutex
	state    processState
	status   uint32
	exitedAt time.Time
	io       *processIO
	paused   bool
}

func newProcess(containerID, execID string, io stdio) *process {
	return &process{containerID: containerID, execID: execID, stdio: io, exited: make(chan struct{})}
}

// setRunning moves a created process to running.
func (p *process) setRunning() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == stateCreated {
		p.state = stateRunning
	}
}

// setExited records the exit status and wakes waiters. Later calls do nothing.
func (p *process) setExited(status uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == stateStopped {
		return
	}
	p.state, p.status, p.exitedAt = stateStopped, status, time.Now()
	close(p.exited)
}

// snapshot returns the process's state, exit status and exit time.
func (p *process) snapshot() (processState, uint32, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.status, p.exitedAt
}
