package virtcontainers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// ErrQMPClosed reports a command on a QMP connection that is closed, because
// QEMU exited or the connection was shut down after a timeout.
var ErrQMPClosed = errors.New("QMP connection closed")

// qmpConn is a typed QMP client over go-qemu's socket monitor. It adds what
// the monitor lacks: context deadlines on commands and a way to wait for one
// event while all others are drained, because the monitor stops reading
// command replies while an event waits unread.
type qmpConn struct {
	mon *qmp.SocketMonitor

	mu      sync.Mutex // guards waiters and closed
	waiters []*eventWaiter
	closed  bool

	done chan struct{} // closed when the event pump ends
}

type eventWaiter struct {
	match func(qmp.Event) bool
	ch    chan qmp.Event
}

// dialQMP connects to QEMU's QMP socket, retrying until QEMU has created it,
// then negotiates capabilities. It gives up when ctx ends or when exited is
// closed, because a QEMU that exited will never listen.
func dialQMP(ctx context.Context, path string, exited <-chan struct{}) (*qmpConn, error) {
	const retry = 10 * time.Millisecond

	for {
		mon, err := qmp.NewSocketMonitor("unix", path, time.Second)
		if err == nil {
			return negotiateQMP(ctx, mon)
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("connecting to QMP socket %s: %w", path, err)
		}

		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for QMP socket %s: %w", path, ctx.Err())
		case <-exited:
			return nil, fmt.Errorf("waiting for QMP socket %s: %w", path, ErrVMExited)
		case <-time.After(retry):
		}
	}
}

func negotiateQMP(ctx context.Context, mon *qmp.SocketMonitor) (*qmpConn, error) {
	connected := make(chan error, 1)
	go func() { connected <- mon.Connect() }()

	select {
	case err := <-connected:
		if err != nil {
			mon.Disconnect()
			return nil, fmt.Errorf("QMP capabilities negotiation: %w", err)
		}
	case <-ctx.Done():
		mon.Disconnect()
		<-connected
		return nil, fmt.Errorf("QMP capabilities negotiation: %w", ctx.Err())
	}

	events, err := mon.Events(context.Background())
	if err != nil {
		mon.Disconnect()
		return nil, fmt.Errorf("subscribing to QMP events: %w", err)
	}

	c := &qmpConn{mon: mon, done: make(chan struct{})}
	go c.pumpEvents(events)
	return c, nil
}

// pumpEvents reads every event, hands those a waiter wants to it, and drops
// the rest.
func (c *qmpConn) pumpEvents(events <-chan qmp.Event) {
	defer close(c.done)

	for ev := range events {
		c.mu.Lock()
		for i, w := range c.waiters {
			if w.match(ev) {
				w.ch <- ev
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
	}
}

// expectEvent registers interest in the next event that match accepts. The
// caller registers before it sends the command that causes the event, then
// receives from the returned channel, which has room for one event.
func (c *qmpConn) expectEvent(match func(qmp.Event) bool) (<-chan qmp.Event, func()) {
	w := &eventWaiter{match: match, ch: make(chan qmp.Event, 1)}

	c.mu.Lock()
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()

	cancel := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, other := range c.waiters {
			if other == w {
				c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
				return
			}
		}
	}
	return w.ch, cancel
}

// execute runs one QMP command and decodes its return value into result,
// unless result is nil. When ctx ends first the connection is closed, since
// a late reply would otherwise be taken as the reply to the next command.
func (c *qmpConn) execute(ctx context.Context, command string, args any, result any) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("QMP %s: %w", command, ErrQMPClosed)
	}

	req, err := json.Marshal(qmp.Command{Execute: command, Args: args})
	if err != nil {
		return fmt.Errorf("encoding QMP %s: %w", command, err)
	}

	type reply struct {
		raw []byte
		err error
	}
	replies := make(chan reply, 1)
	go func() {
		raw, err := c.mon.Run(req)
		replies <- reply{raw, err}
	}()

	var r reply
	select {
	case r = <-replies:
	case <-ctx.Done():
		c.close()
		return fmt.Errorf("QMP %s: %w", command, ctx.Err())
	}
	if r.err != nil {
		return fmt.Errorf("QMP %s: %w", command, r.err)
	}
	if result == nil {
		return nil
	}

	var envelope struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(r.raw, &envelope); err != nil {
		return fmt.Errorf("decoding QMP %s reply %q: %w", command, r.raw, err)
	}
	if err := json.Unmarshal(envelope.Return, result); err != nil {
		return fmt.Errorf("decoding QMP %s return value %q: %w", command, envelope.Return, err)
	}
	return nil
}

// close shuts the connection down and waits for the event pump to end. It
// is safe to call more than once.
func (c *qmpConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()

	c.mon.Disconnect()
	<-c.done
}

// qmpStatus is the reply of query-status.
type qmpStatus struct {
	Running bool   `json:"running"`
	Status  string `json:"status"`
}

func (c *qmpConn) queryStatus(ctx context.Context) (qmpStatus, error) {
	var st qmpStatus
	err := c.execute(ctx, "query-status", nil, &st)
	return st, err
}

// blockdevAddFile adds a raw image or block device as a block node.
func (c *qmpConn) blockdevAddFile(ctx context.Context, nodeName, path string, readOnly bool) error {
	driver := "file"
	if info, err := os.Stat(path); err == nil && info.Mode()&os.ModeDevice != 0 {
		driver = "host_device"
	}
	args := map[string]any{
		"driver":    "raw",
		"node-name": nodeName,
		"read-only": readOnly,
		"file": map[string]any{
			"driver":    driver,
			"filename":  path,
			"read-only": readOnly,
		},
	}
	return c.execute(ctx, "blockdev-add", args, nil)
}

func (c *qmpConn) blockdevDel(ctx context.Context, nodeName string) error {
	return c.execute(ctx, "blockdev-del", map[string]any{"node-name": nodeName}, nil)
}

func (c *qmpConn) deviceAdd(ctx context.Context, props map[string]any) error {
	return c.execute(ctx, "device_add", props, nil)
}

// deviceDel requests that the guest release a device and waits for QEMU's
// DEVICE_DELETED event, which comes once the guest has let go of it.
func (c *qmpConn) deviceDel(ctx context.Context, id string) error {
	deleted, cancel := c.expectEvent(func(ev qmp.Event) bool {
		return ev.Event == "DEVICE_DELETED" && ev.Data["device"] == id
	})
	defer cancel()

	if err := c.execute(ctx, "device_del", map[string]any{"id": id}, nil); err != nil {
		return err
	}

	select {
	case <-deleted:
		return nil
	case <-c.done:
		return fmt.Errorf("waiting for DEVICE_DELETED of %s: %w", id, ErrQMPClosed)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the guest to release device %s: %w", id, ctx.Err())
	}
}
