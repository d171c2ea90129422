// Package run measures sandbox start-up of the Kata runtime through a private
// containerd and the built shim, and the bare QEMU boot of the same guest
// that is its floor. The tools/bench command is a thin front end to it.
package run

import (
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sirupsen/logrus"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// DefaultRuns is the number of runs per mode when none is given: 100 cold
// and 100 warm runs, the method of the evaluation the Kata runtime's
// start-up figures are compared with.
const DefaultRuns = 100

// Options configure a benchmark session.
type Options struct {
	// RepoRoot is the repository checkout holding build/ and configs/.
	RepoRoot string
	// OutDir receives results.json, results.txt and the SVG plots.
	OutDir string

	// Runs per mode; 0 skips the mode.
	BareRuns, ColdRuns, WarmRuns int

	// ConfigTemplate is the Kata configuration the benchmark adapts: the
	// kernel and initrd are pointed at build/guest and the settings below
	// replace the file's own.
	ConfigTemplate string
	Kernel, Initrd string
	Accelerator    vc.Accelerator
	SharedFS       vc.SharedFSType
	AgentChannel   vc.AgentChannel
	DialTimeout    time.Duration
	// RunTimeout bounds one cold run or one exec, from ctr's start to its exit.
	RunTimeout time.Duration

	// Progress receives one line per run; Log the tool's own diagnostics.
	Progress io.Writer
	Log      *logrus.Entry
}

// HostDefaults holds the settings that depend on the host architecture.
type HostDefaults struct {
	Accelerator  vc.Accelerator
	SharedFS     vc.SharedFSType
	AgentChannel vc.AgentChannel
}

// DefaultsFor returns the settings for a host of architecture goarch. On
// riscv64 the guest runs under KVM with vhost-vsock and virtio-fs, as in
// production. Elsewhere QEMU emulates the guest (TCG), and the agent channel
// and shared filesystem are a virtio-serial port and virtio-9p, which need
// no host device or daemon.
func DefaultsFor(goarch string) HostDefaults {
	if goarch == "riscv64" {
		return HostDefaults{Accelerator: vc.AccelKVM, SharedFS: vc.SharedFSVirtioFS, AgentChannel: vc.ChannelVsock}
	}
	return HostDefaults{Accelerator: vc.AccelTCG, SharedFS: vc.SharedFS9P, AgentChannel: vc.ChannelSerial}
}

// DefaultOptions returns the options for this host with repoRoot as the
// checkout.
func DefaultOptions(repoRoot string) Options {
	d := DefaultsFor(runtime.GOARCH)
	return Options{
		RepoRoot:       repoRoot,
		OutDir:         filepath.Join(repoRoot, "build", "bench"),
		BareRuns:       DefaultRuns,
		ColdRuns:       DefaultRuns,
		WarmRuns:       DefaultRuns,
		ConfigTemplate: filepath.Join(repoRoot, "configs", "configuration-qemu.toml"),
		Kernel:         filepath.Join(repoRoot, "build", "guest", "vmlinux.container"),
		Initrd:         filepath.Join(repoRoot, "build", "guest", "kata-containers-initrd.img"),
		Accelerator:    d.Accelerator,
		SharedFS:       d.SharedFS,
		AgentChannel:   d.AgentChannel,
		// Under TCG on a loaded 2-core machine a boot has taken up to a
		// minute; 240 s leaves room without hiding a hung guest for long.
		DialTimeout: 240 * time.Second,
		RunTimeout:  5 * time.Minute,
		Progress:    io.Discard,
		Log:         logrus.WithFields(logrus.Fields{"source": "bench"}),
	}
}

// validate checks the options that a typo would otherwise turn into a
// confusing failure deep inside a run.
func (o Options) validate() error {
	if o.BareRuns < 0 || o.ColdRuns < 0 || o.WarmRuns < 0 {
		return fmt.Errorf("invalid run count (bare %d, cold %d, warm %d): counts must be 0 or more", o.BareRuns, o.ColdRuns, o.WarmRuns)
	}
	switch o.Accelerator {
	case vc.AccelKVM, vc.AccelTCG:
	default:
		return fmt.Errorf("invalid accelerator %q: expected kvm or tcg", o.Accelerator)
	}
	switch o.SharedFS {
	case vc.SharedFSVirtioFS, vc.SharedFS9P:
	default:
		return fmt.Errorf("invalid shared filesystem %q: expected virtio-fs or virtio-9p", o.SharedFS)
	}
	switch o.AgentChannel {
	case vc.ChannelAuto, vc.ChannelVsock, vc.ChannelSerial:
	default:
		return fmt.Errorf("invalid agent channel %q: expected auto, vsock or serial", o.AgentChannel)
	}
	if o.DialTimeout <= 0 || o.RunTimeout <= 0 {
		return fmt.Errorf("invalid timeouts (dial %v, run %v): both must be positive", o.DialTimeout, o.RunTimeout)
	}
	return nil
}
