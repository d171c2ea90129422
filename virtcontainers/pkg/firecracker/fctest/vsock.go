package fctest

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// firstHostPort is the first host-side port number the stand-in reports in
// its "OK <port>" lines. The value is arbitrary, because clients only check
// for "OK".
const firstHostPort = 1 << 30

// vsockListener serves the vsock device's Unix socket (uds_path) with the
// hybrid vsock handshake: the host writes "CONNECT <port>\n" and receives
// "OK <host port>\n" when a guest listens on that port, or a closed
// connection otherwise.
type vsockListener struct {
	server   *Server
	listener net.Listener
	wg       sync.WaitGroup

	mu       sync.Mutex
	nextPort uint32
}

func listenVsock(path string, s *Server) (*vsockListener, error) {
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	v := &vsockListener{server: s, listener: l, nextPort: firstHostPort}
	v.wg.Add(1)
	go v.accept()
	return v, nil
}

func (v *vsockListener) close() {
	_ = v.listener.Close()
	v.wg.Wait()
}

func (v *vsockListener) accept() {
	defer v.wg.Done()
	for {
		conn, err := v.listener.Accept()
		if err != nil {
			return
		}
		go v.handshake(conn)
	}
}

func (v *vsockListener) handshake(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		_ = conn.Close()
		return
	}
	port, ok := parseConnect(line)
	if !ok {
		_ = conn.Close()
		return
	}

	v.server.mu.Lock()
	running := v.server.started()
	handler := v.server.opts.GuestPorts[port]
	v.server.mu.Unlock()
	if !running || handler == nil {
		_ = conn.Close()
		return
	}

	v.mu.Lock()
	hostPort := v.nextPort
	v.nextPort++
	v.mu.Unlock()

	_ = conn.SetReadDeadline(time.Time{})
	if _, err := fmt.Fprintf(conn, "OK %d\n", hostPort); err != nil {
		_ = conn.Close()
		return
	}
	handler(&bufferedConn{Conn: conn, r: br})
}

// parseConnect parses "CONNECT <port>\n".
func parseConnect(line string) (uint32, bool) {
	rest, ok := strings.CutPrefix(line, "CONNECT ")
	if !ok || !strings.HasSuffix(rest, "\n") {
		return 0, false
	}
	port, err := strconv.ParseUint(strings.TrimSuffix(rest, "\n"), 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(port), true
}

// bufferedConn keeps bytes the handshake reader buffered past the CONNECT
// line, so that a client that writes early loses nothing.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
