package channel

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// reopenDelay paces reopening the port after the host closed its end, so
// that a port without a host reader does not spin.
const reopenDelay = 100 * time.Millisecond

// SerialListener serves a virtio-serial port, one byte stream, as a
// listener that yields one connection at a time: Accept opens the port and
// blocks the next Accept until that connection is closed, which ttrpc does
// when the host disconnects.
type SerialListener struct {
	path string
	log  *logrus.Entry

	mu     sync.Mutex
	closed bool
	// free has a token while no connection is open.
	free chan struct{}
	done chan struct{}
}

// NewSerialListener returns a listener for the port at path.
func NewSerialListener(path string, log *logrus.Entry) *SerialListener {
	l := &SerialListener{path: path, log: log, free: make(chan struct{}, 1), done: make(chan struct{})}
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

	f, err := os.OpenFile(l.path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		l.free <- struct{}{}
		return nil, fmt.Errorf("opening serial port %s: %w", l.path, err)
	}
	// A console such as hvc is a terminal: raw mode keeps the line
	// discipline away from ttrpc's binary frames.
	if termios, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		cfmakeraw(termios)
		if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, termios); err != nil {
			f.Close()
			l.free <- struct{}{}
			return nil, fmt.Errorf("setting serial port %s to raw mode: %w", l.path, err)
		}
	}
	l.log.WithField("port", l.path).Debug("serial port opened")
	return &serialConn{File: f, release: l.release}, nil
}

func (l *SerialListener) release() {
	select {
	case <-l.done:
	case <-time.After(reopenDelay):
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

// serialConn is the open port as a net.Conn.
type serialConn struct {
	*os.File
	once    sync.Once
	release func()
}

func (c *serialConn) Close() error {
	err := c.File.Close()
	c.once.Do(func() { go c.release() })
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
