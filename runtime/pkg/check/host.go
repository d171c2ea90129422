package check

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/kvm"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

// Prober runs the probes that touch devices or start programs. SystemProber
// is the real one; tests model a board whose /dev/kvm exists but cannot
// create a vCPU with their own.
type Prober interface {
	// KVM runs the ioctls of kvm.Probe on device.
	KVM(device string) (*kvm.Result, error)
	// VhostVsock opens device as kvm.ProbeVhostVsock does.
	VhostVsock(device string) (*kvm.VsockResult, error)
	// QEMU probes the QEMU binary at path.
	QEMU(ctx context.Context, path string) (*qemucaps.Caps, error)
	// FirecrackerVersion runs `path --version` and returns its output.
	FirecrackerVersion(ctx context.Context, path string) (string, error)
	// LoadModule runs modprobe for the kernel module name.
	LoadModule(ctx context.Context, name string) error
}

// Uname is the part of uname(2) the checks use.
type Uname struct {
	// Machine is the output of uname -m. Under qemu-user it is the emulated
	// machine, not the kernel's.
	Machine string
	Release string
}

// Host is the machine under check.
type Host struct {
	// Root prefixes /proc, /sys, /dev and /lib/modules; "/" on a real host.
	// Configured file paths (kernel, image, VMM binary) are used as given.
	Root string
	// GOARCH is the architecture this binary was built for.
	GOARCH string
	// Uname is the uname(2) result.
	Uname Uname
	// IsRoot reports whether the checks run as root.
	IsRoot bool
	Prober Prober
}

// NewHost describes the machine this process runs on.
func NewHost() (*Host, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, fmt.Errorf("uname: %w", err)
	}
	return &Host{
		Root:   "/",
		GOARCH: runtime.GOARCH,
		Uname: Uname{
			Machine: unix.ByteSliceToString(u.Machine[:]),
			Release: unix.ByteSliceToString(u.Release[:]),
		},
		IsRoot: os.Geteuid() == 0,
		Prober: SystemProber{},
	}, nil
}

// path returns the host path p (absolute, such as /proc/cpuinfo) under Root.
func (h *Host) path(p string) string {
	if h.Root == "" || h.Root == "/" {
		return p
	}
	return filepath.Join(h.Root, p)
}

// readFile reads the host file p under Root.
func (h *Host) readFile(p string) ([]byte, error) {
	return os.ReadFile(h.path(p))
}

// exists reports whether the host path p exists under Root.
func (h *Host) exists(p string) bool {
	_, err := os.Stat(h.path(p))
	return err == nil
}

// SystemProber is the Prober of a real host.
type SystemProber struct{}

// KVM calls kvm.Probe.
func (SystemProber) KVM(device string) (*kvm.Result, error) { return kvm.Probe(device) }

// VhostVsock calls kvm.ProbeVhostVsock.
func (SystemProber) VhostVsock(device string) (*kvm.VsockResult, error) {
	return kvm.ProbeVhostVsock(device)
}

// QEMU calls qemucaps.Probe.
func (SystemProber) QEMU(ctx context.Context, path string) (*qemucaps.Caps, error) {
	return qemucaps.Probe(ctx, path)
}

// FirecrackerVersion runs `path --version` with a 30-second limit.
func (SystemProber) FirecrackerVersion(ctx context.Context, path string) (string, error) {
	return runCommand(ctx, path, "--version")
}

// LoadModule runs `modprobe name`.
func (SystemProber) LoadModule(ctx context.Context, name string) error {
	_, err := runCommand(ctx, "modprobe", name)
	return err
}

func runCommand(ctx context.Context, path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("running %s %s: %w", path, strings.Join(args, " "), err)
		}
		return "", fmt.Errorf("running %s %s: %w: %s", path, strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}
