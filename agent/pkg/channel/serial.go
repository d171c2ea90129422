package channel

import (
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Reopen delays after the host closed its end: a port without a host
// connected reads EOF at once, so idle reopens back off to the maximum
// instead of spinning.
const (
	minReopenDelay = 100 * time.Millisecond
	maxReopenDelay = 2 * time.Second
)

// SerialListener serves a virtio-serial port, one byte stream, as a
// listener that yields one connection at a time: Accept opens the port and
// blocks the next Accept until that connection is closed, which ttrpc does
// when the host disconnects.
type SerialListener struct {
	path string
	log  *logrus.Entry

	mu     sync.Mutex
	closed bool
	// delay is the next reopen delay; guarded by mu.
	delay time.Duration
	// free has a token while no connection is open.
	free chan struct{}
	done chan struct{}
}

// NewSerialListener returns a listener for the port at path.
func NewSerialListener(path string, log *logrus.Entry) *SerialListener {
	l := &SerialListener{path: path, log: log, delay: minReopenDelay, free: make(chan struct{}, 1), done: make(chan struct{})}
	l.free <- struct{}{}
	return l
}

// Accept waits until the previous connection is closed, then opens the port.
func (l *SerialListener) Accept() (net.Conn, error) {
	select {
	case <-l.free:
	case <-l.done:
		return nil, net.ErrClosed
	}

	// A blocking descriptor keeps the port out of Go's netpoller: with
	// edge-triggered epoll, reads of a virtio-serial port stalled until the
	// next write from the host, delaying requests by seconds.
	fd, err := unix.Open(l.path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		l.free <- struct{}{}
		return nil, fmt.Errorf("opening serial port %s: %w", l.path, err)
	}
	f := os.NewFile(uintptr(fd), l.path)

	// A console such as hvc is a terminal: raw mode keeps the line
	// discipline away from ttrpc's binary frames.
	if termios, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		cfmakeraw(termios)
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, termios); err != nil {
			_ = f.Close()
			l.free <- struct{}{}
			return nil, fmt.Errorf("setting serial port %s to raw mode: %w", l.path, err)
		}
	}

	l.mu.Lock()
	quiet := l.delay > minReopenDelay
	l.mu.Unlock()
	if !quiet {
		l.log.WithField("port", l.path).Debug("serial port opened")
	}
	return &serialConn{File: f, release: l.release}, nil
}

// release frees the listener for the next Accept after a delay that grows
// while connections carry no data.
func (l *SerialListener) release(carriedData bool) {
	l.mu.Lock()
	if carriedData {
		l.delay = minReopenDelay
	} else if l.delay < maxReopenDelay {
		l.delay *= 2
	}
	delay := l.delay
	l.mu.Unlock()

	select {
	case <-l.done:
	case <-time.After(delay):
	}
	l.free <- struct{}{}
}

// Close stops Accept; an open connection stays until it is closed.
func (l *SerialListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
	return nil
}

// Addr returns the port path.
func (l *SerialListener) Addr() net.Addr { return serialAddr(l.path) }

type serialAddr string

func (a serialAddr) Network() string { return "serial" }
func (a serialAddr) String() string  { return string(a) }

// serialConn is the open port as a net.Conn. Deadlines are not supported on
// its blocking descriptor; ttrpc sets none.
type serialConn struct {
	*os.File
	once    sync.Once
	read    atomic.Bool
	release func(carriedData bool)
}

func (c *serialConn) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

func (c *serialConn) Close() error {
	err := c.File.Close()
	c.once.Do(func() { go c.release(c.read.Load()) })
	return err
}

func (c *serialConn) LocalAddr() net.Addr  { return serialAddr(c.Name()) }
func (c *serialConn) RemoteAddr() net.Addr { return serialAddr("host") }

// cfmakeraw sets the attributes of cfmakeraw(3).
func cfmakeraw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}
