package container

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/process"
)

// Start starts the user program of a created container.
func (c *Container) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()

	if c.state != Created {
		return fmt.Errorf("container %s is %s, only a created container can start: %w", c.ID, c.state, errdefs.ErrFailedPrecondition)
	}
	if err := c.runc.Start(ctx, c.ID); err != nil {
		return fmt.Errorf("starting container %s: %w%s", c.ID, err, c.runtimeError())
	}
	c.state = Running
	c.log.Info("container started")
	return nil
}

// Exec starts process spec in the running container under execID.
func (c *Container) Exec(ctx context.Context, execID string, spec *specs.Process) error {
	if spec == nil || len(spec.Args) == 0 {
		return fmt.Errorf("exec %s of container %s: process has no args: %w", execID, c.ID, errdefs.ErrInvalidArgument)
	}

	c.mu.Lock()
	if c.state != Running || c.init.HasExited() {
		state := c.state
		c.mu.Unlock()
		return fmt.Errorf("exec %s: container %s is %s, exec needs a running container: %w", execID, c.ID, state, errdefs.ErrFailedPrecondition)
	}
	if _, ok := c.execs[execID]; ok || execID == c.ID {
		c.mu.Unlock()
		return fmt.Errorf("exec %s of container %s: %w", execID, c.ID, errdefs.ErrAlreadyExists)
	}
	// Reserve the id while the runtime works, so that a second request for
	// the same id fails.
	c.execs[execID] = nil
	c.mu.Unlock()

	started := false
	defer func() {
		if !started {
			c.mu.Lock()
			delete(c.execs, execID)
			c.mu.Unlock()
		}
	}()

	proc, streams, err := newStreams(c.ID, execID, spec.User, spec.Terminal)
	if err != nil {
		return err
	}
	pidFile := filepath.Join(c.Bundle, "exec-"+execID+".pid")
	opts := &runc.ExecOpts{PidFile: pidFile, IO: streams.io, Detach: true}
	if streams.consoleSocket != nil {
		opts.ConsoleSocket = streams.consoleSocket
	}

	var p *process.Process
	watch := c.rt.Reaper.Watch(func(status int) {
		p.SetExited(status)
		c.log.WithFields(map[string]any{"exec": execID, "status": status}).Info("exec'd process exited")
	})
	if err := c.runc.Exec(ctx, c.ID, *spec, opts); err != nil {
		watch.Cancel()
		streams.close()
		return fmt.Errorf("exec %s in container %s: %w%s", execID, c.ID, err, c.runtimeError())
	}

	pid, err := readPidFile(pidFile)
	if err == nil {
		proc, err = streams.finish(proc, c.ID, execID)
	}
	if err != nil {
		watch.Cancel()
		streams.close()
		return fmt.Errorf("exec %s in container %s: %w", execID, c.ID, err)
	}
	proc.SetPid(pid)
	p = proc

	c.mu.Lock()
	c.execs[execID] = proc
	c.mu.Unlock()
	watch.SetPid(pid)
	started = true

	c.log.WithFields(map[string]any{"exec": execID, "pid": pid}).Info("process exec'd")
	return nil
}

// Signal sends sig to the init process (empty execID) or to an exec'd
// process. Signalling a process that has exited already does nothing.
func (c *Container) Signal(ctx context.Context, execID string, sig unix.Signal) error {
	p, err := c.Process(execID)
	if err != nil {
		return err
	}
	if p.HasExited() {
		c.log.WithFields(map[string]any{"exec": execID, "signal": int(sig)}).Debug("not signalling a process that exited already")
		return nil
	}

	if p == c.init {
		if err := c.runc.Kill(ctx, c.ID, int(sig), nil); err != nil {
			if p.HasExited() {
				return nil
			}
			return fmt.Errorf("signalling container %s with %d: %w%s", c.ID, sig, err, c.runtimeError())
		}
		return nil
	}
	if err := unix.Kill(p.Pid(), sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling %s with %d: %w", p, sig, err)
	}
	return nil
}

// Wait waits until the process exits and returns its exit status.
func (c *Container) Wait(ctx context.Context, execID string) (int, error) {
	p, err := c.Process(execID)
	if err != nil {
		return 0, err
	}
	select {
	case <-p.Exited():
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for %s: %w", p, ctx.Err())
	}

	if p != c.init {
		c.forgetExecOnce(execID, p)
	}
	return p.Status(), nil
}

// execRetention is how long an exec'd process whose exit was reported stays
// readable while the host has not read its output to EOF. Its pipes are
// closed afterwards, so that a host that never reads cannot exhaust the
// agent's file descriptors with exec after exec (liveness probes, say).
const execRetention = time.Minute

// forgetExecOnce drops an exec'd process after WaitProcess reported its
// exit, once its output is drained or execRetention has passed.
func (c *Container) forgetExecOnce(execID string, p *process.Process) {
	c.mu.Lock()
	if c.forgetting[execID] {
		c.mu.Unlock()
		return
	}
	c.forgetting[execID] = true
	c.mu.Unlock()

	go func() {
		select {
		case <-p.Drained():
		case <-time.After(execRetention):
			c.log.WithField("exec", execID).Debug("closing the output of an exec'd process that the host did not read to EOF")
		}

		c.mu.Lock()
		if c.execs[execID] == p {
			delete(c.execs, execID)
		}
		delete(c.forgetting, execID)
		c.mu.Unlock()
		if err := p.Close(); err != nil {
			c.log.WithError(err).WithField("exec", execID).Debug("closing the streams of an exec'd process failed")
		}
	}()
}

// Remove kills the container's processes, waits up to timeout for the init
// process to exit (0 waits until ctx ends), deletes the container from the
// runtime and removes its bundle.
func (c *Container) Remove(ctx context.Context, timeout time.Duration) error {
	if !c.init.HasExited() {
		if err := c.runc.Kill(ctx, c.ID, int(unix.SIGKILL), &runc.KillOpts{All: true}); err != nil && !c.init.HasExited() {
			c.log.WithError(err).Warn("failed to kill the container's processes; deleting it anyway")
		}

		waitCtx := ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			waitCtx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		select {
		case <-c.init.Exited():
		case <-waitCtx.Done():
			return fmt.Errorf("container %s: init process %d did not exit after SIGKILL: %w", c.ID, c.init.Pid(), waitCtx.Err())
		}
	}

	if err := c.runc.Delete(ctx, c.ID, &runc.DeleteOpts{Force: true}); err != nil {
		c.log.WithError(err).Warn("runtime failed to delete the container; removing its bundle anyway")
	}

	c.mu.Lock()
	procs := []*process.Process{c.init}
	for _, p := range c.execs {
		if p != nil {
			procs = append(procs, p)
		}
	}
	c.state = Stopped
	c.mu.Unlock()
	for _, p := range procs {
		if err := p.Close(); err != nil {
			c.log.WithError(err).WithField("exec", p.ExecID).Debug("closing the streams of a process failed")
		}
	}

	if err := removeBundle(c.Bundle); err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	c.log.Info("container removed")
	return nil
}

// Pause freezes every process of a running container.
func (c *Container) Pause(ctx context.Context) error {
	if err := c.runc.Pause(ctx, c.ID); err != nil {
		return fmt.Errorf("pausing container %s: %w%s", c.ID, err, c.runtimeError())
	}
	return nil
}

// Resume thaws a paused container.
func (c *Container) Resume(ctx context.Context) error {
	if err := c.runc.Resume(ctx, c.ID); err != nil {
		return fmt.Errorf("resuming container %s: %w%s", c.ID, err, c.runtimeError())
	}
	return nil
}

// Update applies new resource limits to the container's cgroup.
func (c *Container) Update(ctx context.Context, resources *specs.LinuxResources) error {
	if resources == nil {
		return fmt.Errorf("update of container %s has no resources: %w", c.ID, errdefs.ErrInvalidArgument)
	}
	if err := c.runc.Update(ctx, c.ID, resources); err != nil {
		return fmt.Errorf("updating container %s: %w%s", c.ID, err, c.runtimeError())
	}
	return nil
}
