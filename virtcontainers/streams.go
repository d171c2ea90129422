package virtcontainers

import (
	"context"
	"io"
)

// ProcessStreams are a guest process's standard streams, carried over the
// agent's ReadStdout, ReadStderr, WriteStdin and CloseStdin calls.
type ProcessStreams struct {
	Stdin  io.WriteCloser
	Stdout io.Reader
	Stderr io.Reader
}

func newProcessStreams(a Agent, containerID, execID string) ProcessStreams {
	return ProcessStreams{
		Stdin: &agentStdin{agent: a, containerID: containerID, execID: execID},
		Stdout: &agentReader{read: func(p []byte) (int, error) {
			return a.ReadStdout(context.Background(), containerID, execID, p)
		}},
		Stderr: &agentReader{read: func(p []byte) (int, error) {
			return a.ReadStderr(context.Background(), containerID, execID, p)
		}},
	}
}

// agentReader adapts a ReadStdout or ReadStderr call to io.Reader. Each Read
// blocks in the agent until output is available or the stream ends.
type agentReader struct {
	read func([]byte) (int, error)
}

func (r *agentReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return r.read(p)
}

// agentStdin adapts WriteStdin and CloseStdin to io.WriteCloser.
type agentStdin struct {
	agent       Agent
	containerID string
	execID      string
}

func (w *agentStdin) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := w.agent.WriteStdin(context.Background(), w.containerID, w.execID, p[written:])
		written += n
		if err != nil {
			return written, err
		}
		if n == 0 {
			return written, io.ErrShortWrite
		}
	}
	return written, nil
}

func (w *agentStdin) Close() error {
	return w.agent.CloseStdin(context.Background(), w.containerID, w.execID)
}
