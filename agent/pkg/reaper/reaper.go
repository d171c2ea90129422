// Package reaper collects the exit status of every child of the agent.
//
// The agent is PID 1 or a child subreaper, so container processes that runc
// or crun fork end up as its children. One SIGCHLD loop calls wait4(-1) for
// all of them and publishes each exit to subscribers. Reaper implements
// go-runc's ProcessMonitor so that the runtime commands go-runc starts are
// waited for by the same loop, without racing exec.Cmd.Wait.
package reaper

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync"
	"time"

	runc "github.com/containerd/go-runc"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// subscriberBuffer is the capacity of each subscription channel; a
// subscriber that falls further behind delays the loop by up to
// publishTimeout per exit.
const (
	subscriberBuffer = 128
	publishTimeout   = 5 * time.Second
)

// Reaper reaps children and publishes their exits.
type Reaper struct {
	log *logrus.Entry

	mu sync.Mutex
	// subscribers is guarded by mu.
	subscribers map[chan runc.Exit]struct{}
}

// New returns a Reaper; call Run to start reaping.
func New(log *logrus.Entry) *Reaper {
	return &Reaper{log: log, subscribers: make(map[chan runc.Exit]struct{})}
}

// Run reaps children on every SIGCHLD until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)

	// Children that exited before Notify raised no signal we could see.
	r.reap()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
			r.reap()
		}
	}
}

func (r *Reaper) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		r.publish(runc.Exit{Timestamp: time.Now(), Pid: pid, Status: ExitStatus(ws)})
	}
}

// ExitStatus converts a wait status to the shell's convention: the exit
// code, or 128 plus the number of the signal that killed the process.
func ExitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (r *Reaper) publish(e runc.Exit) {
	r.mu.Lock()
	subs := make([]chan runc.Exit, 0, len(r.subscribers))
	for ch := range r.subscribers {
		subs = append(subs, ch)
	}
	r.mu.Unlock()

	for _, ch := range subs {
		select {
		case ch <- e:
		case <-time.After(publishTimeout):
			r.log.WithField("pid", e.Pid).Error("subscriber did not take the exit of a child in time; dropping it for that subscriber")
		}
	}
}

// Subscribe returns a channel that receives every exit from now on, until
// Unsubscribe.
func (r *Reaper) Subscribe() chan runc.Exit {
	ch := make(chan runc.Exit, subscriberBuffer)
	r.mu.Lock()
	r.subscribers[ch] = struct{}{}
	r.mu.Unlock()
	return ch
}

// Unsubscribe stops deliveries to ch.
func (r *Reaper) Unsubscribe(ch chan runc.Exit) {
	r.mu.Lock()
	delete(r.subscribers, ch)
	r.mu.Unlock()
}

// Start starts cmd and subscribes to exits before it can exit.
func (r *Reaper) Start(cmd *exec.Cmd) (chan runc.Exit, error) {
	ch := r.Subscribe()
	if err := cmd.Start(); err != nil {
		r.Unsubscribe(ch)
		return nil, err
	}
	return ch, nil
}

// StartLocked is Start on a thread that stays locked during the fork, for
// commands with a parent-death signal, which the kernel ties to the forking
// thread. Unlocking afterwards keeps the thread alive in Go's pool.
func (r *Reaper) StartLocked(cmd *exec.Cmd) (chan runc.Exit, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return r.Start(cmd)
}

// Wait waits for the exit of cmd on ch, then lets exec.Cmd finish copying
// its I/O. cmd.Wait then returns ECHILD, which is expected because the
// reaper has reaped the process already.
func (r *Reaper) Wait(cmd *exec.Cmd, ch chan runc.Exit) (int, error) {
	defer r.Unsubscribe(ch)

	pid := cmd.Process.Pid
	for e := range ch {
		if e.Pid == pid {
			_ = cmd.Wait()
			return e.Status, nil
		}
	}
	return -1, nil
}

// CombinedOutput runs cmd to completion under the reaper and returns its
// output. The agent runs every helper command this way, because
// exec.Cmd.Run would race the reaper for the exit status.
func (r *Reaper) CombinedOutput(cmd *exec.Cmd) ([]byte, int, error) {
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out

	ch, err := r.Start(cmd)
	if err != nil {
		return nil, -1, err
	}
	status, err := r.Wait(cmd, ch)
	return out.Bytes(), status, err
}

var _ runc.ProcessMonitor = (*Reaper)(nil)
