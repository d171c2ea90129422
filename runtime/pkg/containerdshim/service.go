// Package containerdshim is the containerd shim v2 task service of
// io.containerd.kata.v2: one shim process per sandbox, which runs the
// sandbox's VM through virtcontainers and maps containerd's tasks onto
// containers and processes inside it.
package containerdshim

import (
	"context"
	"os"
	"sync"

	"github.com/containerd/containerd/runtime/v2/shim"
	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// RuntimeName is the containerd runtime type this shim serves.
const RuntimeName = "io.containerd.kata.v2"

// service implements containerd's TaskService for one sandbox.
type service struct {
	// id is the shim's id: the sandbox id, which is the id of the sandbox's
	// first container.
	id        string
	paths     vc.Paths
	publisher shim.Publisher
	// shutdown ends the shim process once the last container is gone.
	shutdown func()
	log      *logrus.Entry
	events   *eventForwarder

	// creating holds a cancel function per task whose Create runs. Create
	// holds mu while the VM boots, so Delete and Shutdown cancel the start
	// through it instead of waiting up to dial_timeout for mu.
	creatingMu sync.Mutex
	creating   map[string]context.CancelFunc

	// mu guards everything below.
	mu         sync.Mutex
	cfg        *config.Config
	sandbox    *vc.Sandbox
	containers map[string]*container
	// monitor serves the sandbox's monitor socket while the sandbox runs.
	monitor interface{ Close() error }
}

// New returns the shim for sandbox id. containerd's shim library calls it
// for every invocation of the binary, including `start` and `delete`, so it
// only sets up state and starts nothing.
func New(ctx context.Context, id string, publisher shim.Publisher, shutdown func()) (shim.Shim, error) {
	log := logrus.WithFields(logrus.Fields{
		"source":    "containerd-kata-shim-v2",
		"sandbox":   id,
		"pid":       os.Getpid(),
		"subsystem": "service",
		"version":   buildVersion,
		"commit":    buildCommit,
	})
	s := &service{
		id:         id,
		paths:      vc.DefaultPaths(),
		publisher:  publisher,
		shutdown:   shutdown,
		log:        log,
		containers: map[string]*container{},
		creating:   map[string]context.CancelFunc{},
	}
	s.events = newEventForwarder(ctx, publisher, log)
	return s, nil
}

// vmmPID returns the VMM's pid, which the shim reports as every task's pid:
// the guest's own pids mean nothing on the host.
func (s *service) vmmPID() uint32 {
	if s.sandbox == nil {
		return 0
	}
	pids := s.sandbox.Hypervisor().PIDs()
	if len(pids) == 0 {
		return 0
	}
	return uint32(pids[0])
}

// getContainer returns the container with id. The caller holds s.mu.
func (s *service) getContainer(id string) (*container, error) {
	c, ok := s.containers[id]
	if !ok {
		return nil, notFound("container %s", id)
	}
	return c, nil
}

// getProcess returns the process execID of container id (its init process
// when execID is empty). The caller holds s.mu.
func (s *service) getProcess(id, execID string) (*container, *process, error) {
	c, err := s.getContainer(id)
	if err != nil {
		return nil, nil, err
	}
	if execID == "" {
		return c, c.init, nil
	}
	p, ok := c.execs[execID]
	if !ok {
		return nil, nil, notFound("exec process %s in container %s", execID, id)
	}
	return c, p, nil
}

// buildVersion and buildCommit identify this build in the shim's logs.
var buildVersion, buildCommit = "0.0.0-dev", "unknown"

// SetVersion records the build's version and commit; main calls it once
// before the shim starts.
func SetVersion(version, commit string) {
	buildVersion, buildCommit = version, commit
}
