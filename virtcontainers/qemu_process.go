package virtcontainers

import (
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// childProcess is a started host process (QEMU or virtiofsd) whose exit is
// observed by one goroutine.
type childProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	// waitErr is the result of Wait. It is written before exited is closed
	// and read only after.
	waitErr error
}

// startChild starts cmd in its own process group, so that a signal sent to
// the runtime's group does not reach the VM.
func startChild(cmd *exec.Cmd) (*childProcess, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, err
	}

	p := &childProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *childProcess) pid() int {
	return p.cmd.Process.Pid
}

// hasExited reports whether the process has ended.
func (p *childProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitStatus describes how the process ended. Call it only after exited is
// closed.
func (p *childProcess) exitStatus() string {
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// kill sends SIGKILL and waits until the process is gone.
func (p *childProcess) kill() {
	if p.hasExited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// waitExit waits up to timeout for the process to end on its own.
func (p *childProcess) waitExit(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

func (p *childProcess) String() string {
	return fmt.Sprintf("%s (pid %d)", p.cmd.Path, p.pid())
}
