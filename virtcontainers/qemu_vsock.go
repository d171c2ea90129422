package virtcontainers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vhostVsockSetGuestCID is VHOST_VSOCK_SET_GUEST_CID, _IOW(VHOST_VIRTIO,
// 0x60, __u64), the same on every architecture but ppc64le.
const vhostVsockSetGuestCID = 0x4008AF60

// Guest CIDs: 0 to 2 are reserved (hypervisor, local, host) and 0xFFFFFFFF
// is VMADDR_CID_ANY.
const (
	firstGuestCID = 3
	lastGuestCID  = 0xFFFFFFFE
	// cidAttempts bounds the search for a free CID. Each taken CID belongs to
	// a running VM, so a host would need about that many VMs to exhaust it.
	cidAttempts = 4096
)

// agentVsockPort is the vsock port the kata-agent listens on.
const agentVsockPort = 1024

// setGuestCID claims a CID on an open vhost-vsock device. It returns an
// error wrapping unix.EADDRINUSE when another VM holds the CID.
type setGuestCID func(fd uintptr, cid uint64) error

func ioctlSetGuestCID(fd uintptr, cid uint64) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, vhostVsockSetGuestCID, uintptr(unsafe.Pointer(&cid)))
	if errno != 0 {
		return errno
	}
	return nil
}

// allocateGuestCID opens the vhost-vsock device and claims a free guest CID
// on it, starting at a random CID so that VMs started at the same time do
// not race for the same one. The caller passes the open device to QEMU
// (vhost-vsock's vhostfd), which keeps the CID claimed for the VM's life.
//
// The unit tests use a fake ioctl, because x86 build hosts lack
// /dev/vhost-vsock. The e2e test TestQemuBootsSandboxUnderKVM runs the real
// ioctl in the emulated riscv64 host.
func allocateGuestCID(devicePath string, set setGuestCID, rng *rand.Rand) (*os.File, uint32, error) {
	dev, err := os.OpenFile(devicePath, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", devicePath, err)
	}

	cid := firstGuestCID + rng.Uint32N(lastGuestCID-firstGuestCID+1)
	for range cidAttempts {
		err = set(dev.Fd(), uint64(cid))
		if err == nil {
			return dev, cid, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			dev.Close()
			return nil, 0, fmt.Errorf("VHOST_VSOCK_SET_GUEST_CID %d on %s: %w", cid, devicePath, err)
		}
		cid++
		if cid > lastGuestCID {
			cid = firstGuestCID
		}
	}

	dev.Close()
	return nil, 0, fmt.Errorf("no free guest CID on %s after %d attempts: %w", devicePath, cidAttempts, unix.EADDRINUSE)
}

// chooseAgentChannel resolves the configured agent channel: auto takes vsock
// when the vhost-vsock device can be opened and the virtio-serial port
// otherwise.
func chooseAgentChannel(configured AgentChannel, vhostVsockPath string) (AgentChannel, error) {
	switch configured {
	case ChannelSerial:
		return ChannelSerial, nil
	case ChannelVsock:
		if err := canOpen(vhostVsockPath); err != nil {
			return "", fmt.Errorf("agent channel vsock: %w; load the vhost_vsock module, or use the serial channel", err)
		}
		return ChannelVsock, nil
	case ChannelAuto, "":
		if canOpen(vhostVsockPath) == nil {
			return ChannelVsock, nil
		}
		return ChannelSerial, nil
	}
	return "", fmt.Errorf("agent channel %q: %w: use \"auto\", \"vsock\" or \"serial\"", configured, ErrInvalidConfig)
}

func canOpen(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
