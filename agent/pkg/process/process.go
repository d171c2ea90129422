// Package process models one process of a container in the agent:
// its pid, its standard streams (pipes, or a pseudo terminal) and its exit
// status.
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/console"
	runc "github.com/containerd/go-runc"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

// Read sizes of ReadStdout and ReadStderr: a request for 0 bytes gets
// DefaultReadSize, and no read returns more than MaxReadSize, whatever the
// host requests.
const (
	DefaultReadSize = 32 << 10
	MaxReadSize     = 1 << 20
)

// ctrlD is the terminal's end-of-file character, which closes stdin of a
// process on a terminal in canonical mode.
const ctrlD = 0x04

// Process is a container's init process or an exec'd process.
type Process struct {
	// ContainerID and ExecID identify the process; ExecID is empty for the
	// init process.
	ContainerID string
	ExecID      string

	// pid is set once before the process becomes visible and never changes.
	pid int

	// io is the pipe set for a process without a terminal; nil otherwise.
	io runc.IO
	// console is the terminal master for a process with a terminal.
	console console.Console

	stdoutMu sync.Mutex // serialises reads of stdout
	stderrMu sync.Mutex // serialises reads of stderr

	stdinMu sync.Mutex
	// stdinClosed is guarded by stdinMu.
	stdinClosed bool

	exited chan struct{}
	// status is written once before exited is closed.
	status int

	drainMu sync.Mutex
	// stdoutEOF and stderrEOF are guarded by drainMu.
	stdoutEOF, stderrEOF bool
	// drained is closed once every output stream has been read to EOF.
	drained chan struct{}
}

// NewPipes returns a process whose standard streams are pipes; the runtime
// hands the other ends to the process.
func NewPipes(containerID, execID string, pipes runc.IO) *Process {
	return &Process{ContainerID: containerID, ExecID: execID, io: pipes, exited: make(chan struct{}), drained: make(chan struct{})}
}

// NewTerminal returns a process whose standard streams are a terminal with
// master con.
func NewTerminal(containerID, execID string, con console.Console) *Process {
	// A terminal has one output stream, so stderr counts as read.
	return &Process{ContainerID: containerID, ExecID: execID, console: con, exited: make(chan struct{}), drained: make(chan struct{}), stderrEOF: true}
}

// SetPid records the pid once the runtime has started the process.
func (p *Process) SetPid(pid int) { p.pid = pid }

// Pid returns the process id in the agent's PID namespace.
func (p *Process) Pid() int { return p.pid }

// Terminal reports whether the process runs on a terminal.
func (p *Process) Terminal() bool { return p.console != nil }

func (p *Process) String() string {
	if p.ExecID == "" {
		return fmt.Sprintf("init process of container %s", p.ContainerID)
	}
	return fmt.Sprintf("exec %s of container %s", p.ExecID, p.ContainerID)
}

// SetExited records the exit status and wakes every Wait.
func (p *Process) SetExited(status int) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.status = status
	close(p.exited)
}

// Exited returns a channel that is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// HasExited reports whether the process has exited.
func (p *Process) HasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Status returns the exit status; valid only after Exited is closed.
func (p *Process) Status() int { return p.status }

// ReadStdout reads up to size bytes of the process's output. It blocks until
// data arrives and returns an error wrapping errdefs.ErrEOF once the stream
// is drained after every writer closed it.
func (p *Process) ReadStdout(ctx context.Context, size uint32) ([]byte, error) {
	p.stdoutMu.Lock()
	defer p.stdoutMu.Unlock()

	if p.console != nil {
		return p.read(ctx, p.console, size, "stdout")
	}
	return p.read(ctx, p.io.Stdout(), size, "stdout")
}

// ReadStderr reads up to size bytes of the process's error output. A process
// on a terminal has no separate error stream: its stderr is at EOF at once.
func (p *Process) ReadStderr(ctx context.Context, size uint32) ([]byte, error) {
	p.stderrMu.Lock()
	defer p.stderrMu.Unlock()

	if p.console != nil {
		return nil, fmt.Errorf("stderr of %s is its terminal, read stdout instead: %w", p, errdefs.ErrEOF)
	}
	return p.read(ctx, p.io.Stderr(), size, "stderr")
}

// deadliner is a stream whose blocked reads a deadline can interrupt, as
// the pipes of a process are.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// read reads one chunk of a stream. When ctx ends first, because the host
// gave up on the request or disconnected, the read of a pipe is interrupted
// with nothing consumed, so that no output is lost to a dead request. A
// terminal master may not support deadlines and then reads on.
func (p *Process) read(ctx context.Context, r io.Reader, size uint32, stream string) ([]byte, error) {
	if r == nil {
		p.markEOF(stream)
		return nil, fmt.Errorf("%s of %s: %w", stream, p, errdefs.ErrEOF)
	}
	n := int(size)
	if n == 0 {
		n = DefaultReadSize
	}
	if n > MaxReadSize {
		n = MaxReadSize
	}

	if d, ok := r.(deadliner); ok {
		// A deadline left by an earlier cancelled read must not end this one.
		if err := d.SetReadDeadline(time.Time{}); err == nil {
			stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Unix(1, 0)) })
			defer stop()
		}
	}

	buf := make([]byte, n)
	for {
		got, err := r.Read(buf)
		if got > 0 {
			return buf[:got], nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", stream, p, ctx.Err())
		}
		// A terminal master returns EIO once the last slave is closed.
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.EIO) || errors.Is(err, os.ErrClosed) {
			p.markEOF(stream)
			return nil, fmt.Errorf("%s of %s: %w", stream, p, errdefs.ErrEOF)
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", stream, p, err)
		}
	}
}

func (p *Process) markEOF(stream string) {
	p.drainMu.Lock()
	defer p.drainMu.Unlock()

	wasDrained := p.stdoutEOF && p.stderrEOF
	if stream == "stdout" {
		p.stdoutEOF = true
	} else {
		p.stderrEOF = true
	}
	if !wasDrained && p.stdoutEOF && p.stderrEOF {
		close(p.drained)
	}
}

// Drained returns a channel that is closed once the host has read every
// output stream to EOF.
func (p *Process) Drained() <-chan struct{} { return p.drained }

// WriteStdin writes data to the process's input and returns how many bytes
// were written.
func (p *Process) WriteStdin(data []byte) (int, error) {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()

	if p.stdinClosed {
		return 0, fmt.Errorf("stdin of %s is closed: %w", p, errdefs.ErrFailedPrecondition)
	}
	w := p.stdin()
	if w == nil {
		return 0, fmt.Errorf("%s has no stdin: %w", p, errdefs.ErrFailedPrecondition)
	}
	n, err := w.Write(data)
	if err != nil {
		return n, fmt.Errorf("writing stdin of %s: %w", p, err)
	}
	return n, nil
}

// CloseStdin closes the process's input, so that it reads EOF. On a
// terminal it sends the end-of-file character instead, because closing the
// master would hang up the whole terminal.
func (p *Process) CloseStdin() error {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()

	if p.stdinClosed {
		return nil
	}
	p.stdinClosed = true

	if p.console != nil {
		if _, err := p.console.Write([]byte{ctrlD}); err != nil {
			return fmt.Errorf("sending end of file to the terminal of %s: %w", p, err)
		}
		return nil
	}
	if p.io == nil {
		return nil
	}
	if w := p.io.Stdin(); w != nil {
		if err := w.Close(); err != nil {
			return fmt.Errorf("closing stdin of %s: %w", p, err)
		}
	}
	return nil
}

func (p *Process) stdin() io.Writer {
	if p.console != nil {
		return p.console
	}
	if p.io == nil {
		return nil
	}
	if w := p.io.Stdin(); w != nil {
		return w
	}
	return nil
}

// Resize sets the terminal size of a process on a terminal.
func (p *Process) Resize(rows, columns uint32) error {
	if p.console == nil {
		return fmt.Errorf("%s has no terminal: %w", p, errdefs.ErrFailedPrecondition)
	}
	if rows > 0xffff || columns > 0xffff {
		return fmt.Errorf("terminal size %dx%d of %s exceeds 65535: %w", rows, columns, p, errdefs.ErrInvalidArgument)
	}
	if err := p.console.Resize(console.WinSize{Height: uint16(rows), Width: uint16(columns)}); err != nil {
		return fmt.Errorf("resizing the terminal of %s: %w", p, err)
	}
	return nil
}

// Close releases the agent's ends of the streams.
func (p *Process) Close() error {
	var errs []error
	if p.console != nil {
		errs = append(errs, p.console.Close())
	}
	if p.io != nil {
		errs = append(errs, p.io.Close())
	}
	return errors.Join(errs...)
}
