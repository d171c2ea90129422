package virtcontainers

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"time"

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
		limit := lineLimiter{perSecond: fcLogLinesPerSecond}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			allowed, suppressed := limit.allow(time.Now())
			if suppressed > 0 {
				log.WithField("suppressed_lines", suppressed).Warn("Firecracker output exceeded the rate limit; lines were dropped")
			}
			if allowed {
				log.Log(level, sc.Text())
			}
		}
		if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
			log.WithError(err).Warn("reading Firecracker output failed")
		}
	}()
	return d, nil
}

// fcLogLinesPerSecond bounds the Firecracker log and metrics lines sent to
// logrus, because a guest can make Firecracker log, for example by touching
// device registers it does not emulate.
const fcLogLinesPerSecond = 100

// lineLimiter allows perSecond lines in each one-second window and counts
// the rest.
type lineLimiter struct {
	perSecond  int
	window     time.Time
	count      int
	suppressed int
}

// allow reports whether a line read at now may be logged, and, at the
// first line of a new window, how many lines the previous windows dropped.
func (l *lineLimiter) allow(now time.Time) (allowed bool, reportSuppressed int) {
	if now.Sub(l.window) >= time.Second {
		reportSuppressed = l.suppressed
		l.window, l.count, l.suppressed = now, 0, 0
	}
	if l.count < l.perSecond {
		l.count++
		return true, reportSuppressed
	}
	l.suppressed++
	return false, reportSuppressed
}

// close stops the drain and waits for it to log what it has read.
func (d *fifoDrain) close() {
	_ = d.file.Close()
	<-d.done
}
