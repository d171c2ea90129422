package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// PauseArg makes kata-agent run as the holder of the sandbox's shared PID
// namespace: a process that sleeps until it is killed.
const PauseArg = "-pause"

// pidNamespace is the sandbox's shared PID namespace, held by a pause
// process, for pods that share one process namespace.
type pidNamespace struct {
	cmd  *exec.Cmd
	exit chan runc.Exit
}

// startPidNamespace starts the pause process in a new PID namespace. The
// caller holds s.mu.
func (s *Sandbox) startPidNamespace() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the agent binary for the PID namespace holder: %w", err)
	}
	cmd := exec.Command(self, PauseArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Setsid: true}

	exit, err := s.cfg.Runtime.Reaper.Start(cmd)
	if err != nil {
		return fmt.Errorf("starting the PID namespace holder: %w", err)
	}
	s.pidns = &pidNamespace{cmd: cmd, exit: exit}
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
	if _, err := s.cfg.Runtime.Reaper.Wait(s.pidns.cmd, s.pidns.exit); err != nil {
		s.log.WithError(err).Warn("failed to wait for the PID namespace holder")
	}
	s.pidns = nil
}

// setPidNamespace makes the container join the sandbox's PID namespace when
// the request asks for it and the sandbox has one, else gives it a PID
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
