package reaper

import (
	runc "github.com/containerd/go-runc"
)

// Watch waits for the exit of one process whose pid becomes known only after
// it was started, such as a container process that runc forks and reports in
// a pid file. It subscribes before the start, so an early exit is not missed.
type Watch struct {
	r      *Reaper
	ch     chan runc.Exit
	pid    chan int
	cancel chan struct{}
}

// Watch subscribes to exits and calls onExit with the exit status of the
// process whose pid SetPid later names. onExit runs at most once, on the
// watch's own goroutine; Cancel ends the watch without calling it.
func (r *Reaper) Watch(onExit func(status int)) *Watch {
	w := &Watch{r: r, ch: r.Subscribe(), pid: make(chan int, 1), cancel: make(chan struct{})}
	go w.run(onExit)
	return w
}

// SetPid names the process to wait for; call it once.
func (w *Watch) SetPid(pid int) { w.pid <- pid }

// Cancel ends the watch, for a start that failed.
func (w *Watch) Cancel() { close(w.cancel) }

func (w *Watch) run(onExit func(status int)) {
	defer w.r.Unsubscribe(w.ch)

	// Exits seen before the pid is known, by pid.
	early := make(map[int]int)
	pid := 0
	for {
		select {
		case <-w.cancel:
			return
		case pid = <-w.pid:
			if status, ok := early[pid]; ok {
				onExit(status)
				return
			}
			early = nil
		case e := <-w.ch:
			if pid == 0 {
				early[e.Pid] = e.Status
				continue
			}
			if e.Pid == pid {
				onExit(e.Status)
				return
			}
		}
	}
}
