package client

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/vsock"
)

// URL schemes of agent addresses.
const (
	SchemeVsock       = "vsock"
	SchemeHybridVsock = "hvsock"
	SchemeUnix        = "unix"
)

// maxHandshakeLine bounds the reply to CONNECT; Firecracker sends
// "OK <port>\n", a few bytes.
const maxHandshakeLine = 256

// Address is a parsed agent URL.
type Address struct {
	Scheme string
	// CID is the guest context id, for vsock.
	CID uint32
	// Port is the vsock port, for vsock and hvsock.
	Port uint32
	// Path is the Unix socket path, for hvsock and unix.
	Path string
}

// ParseURL parses an agent URL of the forms vsock://CID:PORT,
// hvsock://UDS_PATH:PORT and unix://PATH.
func ParseURL(url string) (Address, error) {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok || rest == "" {
		return Address{}, fmt.Errorf("invalid agent URL %q: expected vsock://CID:PORT, hvsock://UDS_PATH:PORT or unix://PATH", url)
	}

	switch scheme {
	case SchemeVsock:
		cid, port, ok := strings.Cut(rest, ":")
		if !ok {
			return Address{}, fmt.Errorf("invalid vsock URL %q: expected vsock://CID:PORT", url)
		}
		c, err := strconv.ParseUint(cid, 10, 32)
		if err != nil {
			return Address{}, fmt.Errorf("invalid CID in vsock URL %q: %w", url, err)
		}
		p, err := parsePort(url, port)
		if err != nil {
			return Address{}, err
		}
		return Address{Scheme: scheme, CID: uint32(c), Port: p}, nil

	case SchemeHybridVsock:
		i := strings.LastIndex(rest, ":")
		if i <= 0 {
			return Address{}, fmt.Errorf("invalid hybrid vsock URL %q: expected hvsock://UDS_PATH:PORT", url)
		}
		p, err := parsePort(url, rest[i+1:])
		if err != nil {
			return Address{}, err
		}
		return Address{Scheme: scheme, Path: rest[:i], Port: p}, nil

	case SchemeUnix:
		return Address{Scheme: scheme, Path: rest}, nil

	default:
		return Address{}, fmt.Errorf("invalid agent URL %q: unknown scheme %q, expected vsock, hvsock or unix", url, scheme)
	}
}

func parsePort(url, port string) (uint32, error) {
	p, err := strconv.ParseUint(port, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid port in agent URL %q: %w", url, err)
	}
	return uint32(p), nil
}

// String formats the address as a URL that ParseURL accepts.
func (a Address) String() string {
	switch a.Scheme {
	case SchemeVsock:
		return fmt.Sprintf("vsock://%d:%d", a.CID, a.Port)
	case SchemeHybridVsock:
		return fmt.Sprintf("hvsock://%s:%d", a.Path, a.Port)
	default:
		return a.Scheme + "://" + a.Path
	}
}

// dial makes one connection attempt bounded by timeout.
func (a Address) dial(ctx context.Context, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	switch a.Scheme {
	case SchemeVsock:
		return dialVsock(ctx, a.CID, a.Port)
	case SchemeHybridVsock:
		return DialHybridVsock(ctx, a.Path, a.Port)
	default:
		var d net.Dialer
		return d.DialContext(ctx, "unix", a.Path)
	}
}

// dialVsock connects over AF_VSOCK; mdlayher/vsock has no context-aware dial,
// so a context that ends first abandons the attempt and closes its result.
func dialVsock(ctx context.Context, cid, port uint32) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := vsock.Dial(cid, port, nil)
		if err != nil {
			// A nil *vsock.Conn in the net.Conn field would not compare
			// equal to nil below.
			done <- result{nil, err}
			return
		}
		done <- result{c, nil}
	}()

	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("connecting to vsock CID %d port %d: %w", cid, port, r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				_ = r.conn.Close()
			}
		}()
		return nil, fmt.Errorf("connecting to vsock CID %d port %d: %w", cid, port, ctx.Err())
	}
}

// DialHybridVsock connects to a guest vsock port through Firecracker's hybrid
// vsock: it connects to the Unix socket at path, writes "CONNECT <port>\n" and
// accepts a reply line that starts with "OK " (Firecracker sends
// "OK <host port>"). The deadline of ctx bounds the handshake.
func DialHybridVsock(ctx context.Context, path string, port uint32) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connecting to hybrid vsock socket %s: %w", path, err)
	}

	if err := hybridVsockHandshake(ctx, conn, port); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("hybrid vsock handshake on %s for port %d: %w", path, port, err)
	}
	return conn, nil
}

func hybridVsockHandshake(ctx context.Context, conn net.Conn, port uint32) error {
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return err
		}
	}
	// A deadline in the past interrupts a blocked read when ctx is cancelled
	// without a deadline of its own.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := fmt.Fprintf(conn, "CONNECT %d\n", port); err != nil {
		return fmt.Errorf("writing CONNECT: %w", err)
	}

	// Read byte by byte: the bytes after the newline belong to ttrpc, and a
	// buffered reader would swallow them.
	line, err := readLine(conn, maxHandshakeLine)
	if err != nil {
		return fmt.Errorf("reading the reply to CONNECT: %w", err)
	}
	if !strings.HasPrefix(line, "OK ") {
		return fmt.Errorf("unexpected reply to CONNECT %d: %q (the guest may not listen on that port yet)", port, line)
	}

	return conn.SetDeadline(time.Time{})
}

// readLine reads up to and excluding '\n', at most limit bytes.
func readLine(conn net.Conn, limit int) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < limit {
		if _, err := conn.Read(buf); err != nil {
			return b.String(), err
		}
		if buf[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(buf[0])
	}
	return b.String(), fmt.Errorf("reply longer than %d bytes without a newline", limit)
}
