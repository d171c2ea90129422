package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

var (
	// errTimeout means the command did not finish in time and the VM was killed.
	errTimeout = errors.New("timed out")
	// errVMStopped means the VM exited before the command reported its status.
	errVMStopped = errors.New("the emulated host stopped before the command finished")
)

// Files of a run directory. The guest writes stdout, stderr, started and
// exit-status through the "run" share; hostvm writes command.sh.
const (
	runCommandFile = "command.sh"
	runStdoutFile  = "stdout"
	runStderrFile  = "stderr"
	runStartedFile = "started"
	runStatusFile  = "exit-status"
	runConsoleLog  = "console.log"
	runQEMULog     = "qemu.log"
	// runOutDir holds what the command writes for --out.
	runOutDir = "out"
)

// supervisor follows one VM through its run directory. It streams the
// command's output files as they grow, records when the command starts and
// returns its exit status. It kills the VM's process group on timeout, on
// cancellation, or when the VM does not power off after the command ends.
type supervisor struct {
	runDir string
	stdout io.Writer
	stderr io.Writer
	log    *logrus.Entry
	// poll is how often the run directory is read.
	poll time.Duration
	// powerOffGrace is how long the VM may take to exit after the command
	// wrote its status. The guest powers off with 'poweroff -f', which takes
	// well under a second when the VM is healthy.
	powerOffGrace time.Duration
}

// runResult is the outcome of a run that reached its command.
type runResult struct {
	exitCode int
	// bootTime is from the VM's start to the command's start, as seen by the host.
	bootTime time.Duration
	// guestUptime is the guest's uptime when the command started.
	guestUptime time.Duration
	runTime     time.Duration
}

// startInGroup starts cmd as the leader of a new process group that gets
// SIGKILL if hostvm dies, so the VM never outlives it. Pdeathsig fires when
// the thread that forked exits. That is safe here because the Go runtime
// ends a thread only when a goroutine locked to it exits, and hostvm locks
// none.
func startInGroup(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd.Start()
}

// killGroup sends SIGKILL to the process group led by cmd.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
}

// supervise waits for cmd, which must have been started with startInGroup,
// and returns the command's exit status. On every return path the process
// group is dead and reaped.
func (s supervisor) supervise(ctx context.Context, cmd *exec.Cmd) (runResult, error) {
	var res runResult
	start := time.Now()

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	out := newTail(filepath.Join(s.runDir, runStdoutFile), s.stdout)
	errOut := newTail(filepath.Join(s.runDir, runStderrFile), s.stderr)
	defer out.close()
	defer errOut.close()
	drain := func() {
		out.copy()
		errOut.copy()
	}

	// stop kills the group, waits for it and drains the output.
	stop := func() {
		killGroup(cmd)
		<-exited //nolint:errcheck // the group was just killed, so its exit error carries no information
		drain()
	}

	ticker := time.NewTicker(s.poll)
	defer ticker.Stop()
	var started, statusSeen time.Time
	for {
		select {
		case <-ctx.Done():
			stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return res, fmt.Errorf("%w after %s: the VM was killed", errTimeout, time.Since(start).Round(time.Second))
			}
			return res, fmt.Errorf("interrupted: the VM was killed: %w", ctx.Err())

		case err := <-exited:
			drain()
			code, ok := readStatus(s.runDir)
			if !ok {
				return res, fmt.Errorf("%w (VM exit: %v)", errVMStopped, err)
			}
			res.exitCode = code
			res.runTime = time.Since(start)
			return res, nil

		case <-ticker.C:
			drain()
			if started.IsZero() {
				if up, ok := readStarted(s.runDir); ok {
					started = time.Now()
					res.bootTime = started.Sub(start)
					res.guestUptime = up
					s.log.Infof("command started %.1f s after the VM (guest uptime %.1f s)", res.bootTime.Seconds(), up.Seconds())
				}
			}
			if statusSeen.IsZero() {
				if _, ok := readStatus(s.runDir); ok {
					statusSeen = time.Now()
				}
			} else if time.Since(statusSeen) > s.powerOffGrace {
				s.log.Warnf("the VM did not power off within %s after the command ended; killing it", s.powerOffGrace)
				stop()
				code, _ := readStatus(s.runDir)
				res.exitCode = code
				res.runTime = time.Since(start)
				return res, nil
			}
		}
	}
}

// readStatus returns the exit status that the guest wrote, if any.
func readStatus(runDir string) (int, bool) {
	data, err := os.ReadFile(filepath.Join(runDir, runStatusFile))
	if err != nil {
		return 0, false
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, false
	}
	return code, true
}

// readStarted returns the guest uptime recorded when the command started.
func readStarted(runDir string) (time.Duration, bool) {
	data, err := os.ReadFile(filepath.Join(runDir, runStartedFile))
	if err != nil || len(data) == 0 {
		return 0, false
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, true
	}
	sec, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, true
	}
	return time.Duration(sec * float64(time.Second)), true
}

// tail copies what is appended to a file to a writer. The file may not
// exist yet.
type tail struct {
	path string
	w    io.Writer
	f    *os.File
}

func newTail(path string, w io.Writer) *tail { return &tail{path: path, w: w} }

func (t *tail) copy() {
	if t.f == nil {
		f, err := os.Open(t.path)
		if err != nil {
			return
		}
		t.f = f
	}
	_, _ = io.Copy(t.w, t.f)
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
	}
}
