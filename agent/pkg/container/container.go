// Package container runs one OCI container inside the guest through runc or
// crun (driven by go-runc) and keeps its processes: the init process and the
// processes exec'd into it.
package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/process"
)

// Container is a container created by the OCI runtime.
type Container struct {
	ID     string
	Bundle string

	rt   *Runtime
	runc *runc.Runc
	log  *logrus.Entry
	init *process.Process

	mu sync.Mutex
	// state, execs and forgetting are guarded by mu.
	state State
	execs map[string]*process.Process
	// forgetting marks exec ids whose process is being dropped after
	// WaitProcess.
	forgetting map[string]bool
}

// Create creates container id from spec with the OCI runtime, with its init
// process stopped before the user program until Start. The streams of the
// init process are pipes, or a terminal when spec.Process.Terminal is set.
func Create(ctx context.Context, rt *Runtime, id string, spec *specs.Spec) (*Container, error) {
	if spec == nil || spec.Process == nil {
		return nil, fmt.Errorf("container %s: OCI spec has no process: %w", id, errdefs.ErrInvalidArgument)
	}
	if len(spec.Process.Args) == 0 {
		return nil, fmt.Errorf("container %s: OCI spec process has no args: %w", id, errdefs.ErrInvalidArgument)
	}
	if rt.Command == "" {
		return nil, fmt.Errorf("container %s: the guest has no OCI runtime: install crun or runc in the guest image: %w", id, errdefs.ErrFailedPrecondition)
	}

	bundle := rt.bundleDir(id)
	if err := prepareBundle(bundle, spec); err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	created := false
	defer func() {
		if !created {
			if err := removeBundle(bundle); err != nil {
				rt.Log.WithError(err).WithField("container", id).Error("failed to remove the bundle of a container that failed to start")
			}
		}
	}()

	c := &Container{
		ID:     id,
		Bundle: bundle,
		rt:     rt,
		log:    rt.Log.WithField("container", id),
		runc: &runc.Runc{
			Command:   rt.command(),
			Root:      rt.StateRoot,
			Log:       filepath.Join(bundle, "runtime-log.json"),
			LogFormat: runc.JSON,
		},
		state:      Created,
		execs:      make(map[string]*process.Process),
		forgetting: make(map[string]bool),
	}

	proc, streams, err := newStreams(id, "", spec.Process.User, spec.Process.Terminal)
	if err != nil {
		return nil, err
	}
	pidFile := filepath.Join(bundle, "init.pid")
	opts := &runc.CreateOpts{PidFile: pidFile, IO: streams.io, NoPivot: rt.NoPivot}
	if streams.consoleSocket != nil {
		// A typed nil in the interface would make go-runc pass a console socket.
		opts.ConsoleSocket = streams.consoleSocket
	}

	watch := rt.Reaper.Watch(func(status int) { c.initExited(status) })
	if err := c.runc.Create(ctx, id, bundle, opts); err != nil {
		watch.Cancel()
		streams.close()
		return nil, fmt.Errorf("creating container %s with %s: %w%s", id, rt.Command, err, c.runtimeError())
	}

	pid, err := readPidFile(pidFile)
	if err == nil {
		proc, err = streams.finish(proc, id, "")
	}
	if err != nil {
		watch.Cancel()
		streams.close()
		if derr := c.runc.Delete(context.WithoutCancel(ctx), id, &runc.DeleteOpts{Force: true}); derr != nil {
			c.log.WithError(derr).Error("failed to delete a container whose creation failed")
		}
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	proc.SetPid(pid)
	c.init = proc
	watch.SetPid(pid)

	c.log.WithField("pid", pid).Info("container created")
	created = true
	return c, nil
}

// initExited records the exit of the init process.
func (c *Container) initExited(status int) {
	c.mu.Lock()
	c.state = Stopped
	c.mu.Unlock()

	c.init.SetExited(status)
	c.log.WithField("status", status).Info("container init process exited")
}

// State returns the lifecycle state.
func (c *Container) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Init returns the init process.
func (c *Container) Init() *process.Process { return c.init }

// Process returns the init process for an empty execID, else the exec'd
// process execID.
func (c *Container) Process(execID string) (*process.Process, error) {
	if execID == "" || execID == c.ID {
		return c.init, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.execs[execID]
	if !ok {
		return nil, fmt.Errorf("exec %s of container %s: %w", execID, c.ID, errdefs.ErrNotFound)
	}
	if p == nil {
		return nil, fmt.Errorf("exec %s of container %s is still starting: %w", execID, c.ID, errdefs.ErrFailedPrecondition)
	}
	return p, nil
}

// runtimeError returns the last error the OCI runtime logged, formatted to
// append to an error message, or "".
func (c *Container) runtimeError() string {
	data, err := os.ReadFile(c.runc.Log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"level":"error"`) {
			return ": " + lines[i]
		}
	}
	return ""
}

func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("invalid pid file %s: %q", path, data)
	}
	return pid, nil
}
