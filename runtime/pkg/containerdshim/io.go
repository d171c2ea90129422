package containerdshim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/fifo"
	"github.com/sirupsen/logrus"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// stdio names the fifos containerd opened for a process.
type stdio struct {
	stdin, stdout, stderr string
	terminal              bool
}

// processIO copies between containerd's fifos and a guest process's streams.
type processIO struct {
	log     *logrus.Entry
	streams vc.ProcessStreams

	stdinFifo io.ReadCloser
	// stdinDone is closed when the stdin copy has ended; nil without stdin.
	stdinDone chan struct{}
	// outputDone is closed once stdout and stderr reached EOF.
	outputDone chan struct{}

	closeStdinOnce sync.Once
}

// drainTimeout bounds how long an exited process's output is awaited: a
// daemon the process left behind may hold its stdout open for ever.
const drainTimeout = 10 * time.Second

// stdinDrainTimeout bounds how long CloseIO waits for the stdin copy to
// reach the end of the fifo before it closes the fifo.
const stdinDrainTimeout = 5 * time.Second

// startIO opens the fifos of p and starts the copies. It returns once the
// fifos are open, so that a missing reader is an error of Start, not a hang.
func startIO(ctx context.Context, log *logrus.Entry, p *process, streams vc.ProcessStreams) (*processIO, error) {
	pio := &processIO{log: log, streams: streams, outputDone: make(chan struct{})}

	var outputs sync.WaitGroup
	copyOut := func(path, name string, from io.Reader) error {
		if path == "" {
			return nil
		}
		w, err := fifo.OpenFifo(ctx, path, syscall.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("opening %s fifo %s: %w", name, path, err)
		}
		outputs.Add(1)
		go func() {
			defer outputs.Done()
			defer w.Close()
			if _, err := io.Copy(w, from); err != nil && !errors.Is(err, io.EOF) {
				log.WithError(err).WithField("stream", name).Warn("copying process output")
			}
		}()
		return nil
	}

	if err := copyOut(p.stdio.stdout, "stdout", streams.Stdout); err != nil {
		return nil, err
	}
	if !p.stdio.terminal {
		if err := copyOut(p.stdio.stderr, "stderr", streams.Stderr); err != nil {
			return nil, err
		}
	}
	go func() {
		outputs.Wait()
		close(pio.outputDone)
	}()

	if p.stdio.stdin != "" {
		r, err := fifo.OpenFifo(context.WithoutCancel(ctx), p.stdio.stdin, syscall.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("opening stdin fifo %s: %w", p.stdio.stdin, err)
		}
		pio.stdinFifo = r
		pio.stdinDone = make(chan struct{})
		go func() {
			defer close(pio.stdinDone)
			if _, err := io.Copy(streams.Stdin, r); err != nil {
				log.WithError(err).Debug("copying stdin stopped")
			}
			pio.closeStdin()
		}()
	}
	return pio, nil
}

// closeStdin closes the process's stdin in the guest once.
func (pio *processIO) closeStdin() {
	pio.closeStdinOnce.Do(func() {
		if err := pio.streams.Stdin.Close(); err != nil {
			pio.log.WithError(err).Debug("closing stdin in the guest")
		}
	})
}

// finishStdin serves containerd's CloseIO, which the client sends after it
// has written its last stdin byte and closed its end of the fifo. The data
// may still sit in the fifo, so the copy reads on to the end of the fifo
// and then closes stdin in the guest. Closing the fifo at once lost that
// data: a process reading stdin saw an empty input. Only a copy that does
// not end within stdinDrainTimeout, because another writer holds the fifo
// open, has the fifo closed under it.
func (pio *processIO) finishStdin() {
	if pio.stdinFifo == nil {
		pio.closeStdin()
		return
	}
	select {
	case <-pio.stdinDone:
	case <-time.After(stdinDrainTimeout):
		pio.log.Warn("stdin fifo still open for writing after CloseIO; closing it")
		pio.stdinFifo.Close()
	}
}

// closeStdinFifo ends the stdin copy of an exited process. The copy
// goroutine then closes stdin in the guest.
func (pio *processIO) closeStdinFifo() {
	if pio.stdinFifo != nil {
		pio.stdinFifo.Close()
		return
	}
	pio.closeStdin()
}

// waitOutput waits for the output copies to reach EOF, at most drainTimeout.
func (pio *processIO) waitOutput() {
	select {
	case <-pio.outputDone:
	case <-time.After(drainTimeout):
		pio.log.Warn("process output still open after exit; not waiting for it any longer")
	}
}
