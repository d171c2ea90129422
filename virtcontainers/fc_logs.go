package virtcontainers

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// fifoDrain reads lines from a named pipe that Firecracker writes its log or
// metrics to, and sends them to logrus.
type fifoDrain struct {
	file *os.File
	done chan struct{}
}

// startFIFODrain creates the named pipe at path, owned by uid:gid so that a
// jailed Firecracker can open it, and logs each line written to it at level.
//
// The pipe is opened read-write: the backend then holds a writer itself, so
// reads block until Firecracker writes instead of returning end-of-file
// before Firecracker has opened its end, and Firecracker's non-blocking open
// for writing finds a reader.
func startFIFODrain(path string, uid, gid int, log *logrus.Entry, level logrus.Level) (*fifoDrain, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("creating named pipe %s: %w", path, err)
	}
	if uid != 0 || gid != 0 {
		if err := os.Chown(path, uid, gid); err != nil {
			return nil, fmt.Errorf("giving named pipe %s to %d:%d: %w", path, uid, gid, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening named pipe %s: %w", path, err)
	}

	d := &fifoDrain{file: f, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			log.Log(level, sc.Text())
		}
		if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
			log.WithError(err).Warn("reading Firecracker output failed")
		}
	}()
	return d, nil
}

// close stops the drain and waits for it to log what it has read.
func (d *fifoDrain) close() {
	d.file.Close()
	<-d.done
}
