package virtcontainers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// consoleTailBytes is how much of the console log a failed start quotes.
const consoleTailBytes = 4096

// consoleLog listens on the console socket, which QEMU connects to as a
// client, and copies everything the guest prints into the log file.
type consoleLog struct {
	listener *net.UnixListener
	logPath  string
	done     chan struct{}
}

// startConsoleLog creates the console socket (mode 0600) and the log file,
// and starts copying once QEMU connects.
func startConsoleLog(socketPath, logPath string) (*consoleLog, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating console log: %w", err)
	}

	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: socketPath, Net: "unix"})
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("creating console socket: %w", err)
	}
	if err := os.Chmod(socketPath, 0o600); err != nil {
		listener.Close()
		logFile.Close()
		return nil, fmt.Errorf("setting the mode of the console socket: %w", err)
	}

	c := &consoleLog{listener: listener, logPath: logPath, done: make(chan struct{})}
	go c.copy(logFile)
	return c, nil
}

func (c *consoleLog) copy(logFile *os.File) {
	defer close(c.done)
	defer logFile.Close()

	conn, err := c.listener.Accept()
	if err != nil {
		return
	}

	_, _ = io.Copy(logFile, conn)
	conn.Close()
}

// close stops listening and waits until everything QEMU wrote is in the log.
// QEMU must have exited, or the copy would wait for more output.
func (c *consoleLog) close() {
	c.listener.Close()
	<-c.done
}

// tail returns the last consoleTailBytes of the log.
func (c *consoleLog) tail() string {
	return fileTail(c.logPath, consoleTailBytes)
}

func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()

	if info, err := f.Stat(); err == nil && info.Size() > n {
		if _, err := f.Seek(-n, io.SeekEnd); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return string(b)
}
