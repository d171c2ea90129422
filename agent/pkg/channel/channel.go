// Package channel opens the listener on which the agent serves ttrpc: a
// vsock port, a Unix socket, or a virtio-serial port.
package channel

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mdlayher/vsock"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Address schemes of agent.server_addr.
const (
	SchemeVsock  = "vsock"
	SchemeUnix   = "unix"
	SchemeSerial = "serial"
)

// Select returns the address to listen on: addr when set, else the
// virtio-serial port when the guest has it (QEMU adds one only where the
// host lacks vhost-vsock), else vsock port 1024. sysRoot is where sysfs is
// mounted, "/sys" outside tests.
func Select(addr, serialPort, vsockAddr, sysRoot string) string {
	if addr != "" {
		return addr
	}
	if _, err := os.Stat(serialPort); err == nil {
		return SchemeSerial + "://" + serialPort
	}
	if dev := findSerialPort(sysRoot, filepath.Base(serialPort)); dev != "" {
		return SchemeSerial + "://" + dev
	}
	return vsockAddr
}

// findSerialPort returns the device node of the virtio-serial port called
// name, found through sysfs. udev makes the /dev/virtio-ports/NAME links,
// but a guest with the agent as init runs no udev. The kernel's devtmpfs
// still creates the port's /dev/vportNpM node.
func findSerialPort(sysRoot, name string) string {
	ports, err := os.ReadDir(filepath.Join(sysRoot, "class", "virtio-ports"))
	if err != nil {
		return ""
	}
	for _, p := range ports {
		got, err := os.ReadFile(filepath.Join(sysRoot, "class", "virtio-ports", p.Name(), "name"))
		if err == nil && strings.TrimSpace(string(got)) == name {
			return filepath.Join("/dev", p.Name())
		}
	}
	return ""
}

// Listen opens a listener for addr: vsock://CID:PORT (CID -1 means any),
// unix:///path, or serial:///dev/virtio-ports/NAME.
func Listen(addr string, log *logrus.Entry) (net.Listener, error) {
	scheme, rest, ok := strings.Cut(addr, "://")
	if !ok || rest == "" {
		return nil, fmt.Errorf("invalid agent.server_addr %q: expected vsock://CID:PORT, unix:///PATH or serial:///PATH", addr)
	}

	switch scheme {
	case SchemeVsock:
		cidText, portText, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("invalid vsock address %q: expected vsock://CID:PORT", addr)
		}
		cid := uint32(unix.VMADDR_CID_ANY)
		if cidText != "-1" {
			c, err := strconv.ParseUint(cidText, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("invalid CID in %q: %w", addr, err)
			}
			cid = uint32(c)
		}
		port, err := strconv.ParseUint(portText, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("invalid port in %q: %w", addr, err)
		}
		l, err := vsock.ListenContextID(cid, uint32(port), nil)
		if err != nil {
			return nil, fmt.Errorf("listening on %s (is the vsock transport module loaded?): %w", addr, err)
		}
		return l, nil

	case SchemeUnix:
		if err := os.Remove(rest); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("removing the stale socket %s: %w", rest, err)
		}
		l, err := net.Listen("unix", rest)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		return l, nil

	case SchemeSerial:
		return NewSerialListener(rest, log), nil

	default:
		return nil, fmt.Errorf("invalid agent.server_addr %q: unknown scheme %q", addr, scheme)
	}
}
