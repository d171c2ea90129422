package container

import (
	"fmt"

	runc "github.com/containerd/go-runc"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/process"
)

// streams are the standard streams being handed to a new process: pipes, or
// the socket on which the runtime sends back the terminal master.
type streams struct {
	io            runc.IO
	consoleSocket *runc.Socket
}

// newStreams prepares the streams of a process; pipes belong to the
// process's user so that it can reopen them through /proc/self/fd. For pipes the process object
// is complete at once; for a terminal finish receives the master.
func newStreams(containerID, execID string, user specs.User, terminal bool) (*process.Process, *streams, error) {
	if terminal {
		socket, err := runc.NewTempConsoleSocket()
		if err != nil {
			return nil, nil, fmt.Errorf("creating the console socket for %s/%s: %w", containerID, execID, err)
		}
		return nil, &streams{consoleSocket: socket}, nil
	}

	pipes, err := runc.NewPipeIO(int(user.UID), int(user.GID))
	if err != nil {
		return nil, nil, fmt.Errorf("creating stdio pipes for %s/%s: %w", containerID, execID, err)
	}
	return process.NewPipes(containerID, execID, pipes), &streams{io: pipes}, nil
}

// finish completes the process after the runtime started it: for a terminal
// it receives the master on the console socket.
func (s *streams) finish(p *process.Process, containerID, execID string) (*process.Process, error) {
	if s.consoleSocket == nil {
		return p, nil
	}
	defer func() { _ = s.consoleSocket.Close() }()

	master, err := s.consoleSocket.ReceiveMaster()
	if err != nil {
		return nil, fmt.Errorf("receiving the terminal master: %w", err)
	}
	return process.NewTerminal(containerID, execID, master), nil
}

// close releases the streams after a failed start.
func (s *streams) close() {
	// The streams were never used, so a failure to close them loses nothing.
	if s.io != nil {
		_ = s.io.Close()
	}
	if s.consoleSocket != nil {
		_ = s.consoleSocket.Close()
	}
}
