package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// PauseArg makes kata-agent run as the holder of the sandbox's shared PID
// namespace: a process that sleeps until it is killed.
const PauseArg = "-pause"

// pidNamespace is the sandbox's shared PID namespace, held by a pause
// process, for pods that share one process namespace.
type pidNamespace struct {
	cmd *exec.Cmd
	// exited is closed when the reaper has collected the pause process.
	exited chan struct{}
}

// pauseStopTimeout bounds the wait for the killed pause process.
const pauseStopTimeout = 5 * time.Second

// startPidNamespace starts the pause process in a new PID namespace. The
// caller holds s.mu.
func (s *Sandbox) startPidNamespace() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the agent binary for the PID namespace holder: %w", err)
	}
	cmd := exec.Command(self, PauseArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Setsid: true}

	// A watch rather than a plain subscription: it keeps draining exits for
	// as long as the pause process lives, so the reaper never waits on it.
	exited := make(chan struct{})
	watch := s.cfg.Runtime.Reaper.Watch(func(int) { close(exited) })
	if err := cmd.Start(); err != nil {
		watch.Cancel()
		return fmt.Errorf("starting the PID namespace holder: %w", err)
	}
	watch.SetPid(cmd.Process.Pid)

	s.pidns = &pidNamespace{cmd: cmd, exited: exited}
	s.log.WithField("pid", cmd.Process.Pid).Info("sandbox PID namespace created")
	return nil
}

// stopPidNamespace kills the pause process. The caller holds s.mu.
func (s *Sandbox) stopPidNamespace() {
	if s.pidns == nil {
		return
	}
	if err := s.pidns.cmd.Process.Kill(); err != nil {
		s.log.WithError(err).Warn("failed to kill the PID namespace holder")
	}
	select {
	case <-s.pidns.exited:
	case <-time.After(pauseStopTimeout):
		s.log.WithField("pid", s.pidns.cmd.Process.Pid).Warn("the PID namespace holder did not exit after SIGKILL")
	}
	s.pidns = nil
}

// setPidNamespace makes the container join the sandbox's PID namespace when
// the request sets sandbox_pidns and the sandbox has one, else gives it a PID
// namespace of its own, as upstream's agent does. The caller holds s.mu.
func (s *Sandbox) setPidNamespace(spec *specs.Spec, sandboxPidns bool) {
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	path := ""
	if sandboxPidns && s.pidns != nil {
		path = "/proc/" + strconv.Itoa(s.pidns.cmd.Process.Pid) + "/ns/pid"
	}

	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			spec.Linux.Namespaces[i].Path = path
			return
		}
	}
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace, Path: path})
}
