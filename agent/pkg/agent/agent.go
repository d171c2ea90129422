// Package agent assembles kata-agent: it reads the kernel command line,
// prepares the guest when it is PID 1, and serves the agent API until it is
// stopped or the sandbox is destroyed.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	runc "github.com/containerd/go-runc"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/cgroupstats"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/channel"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/config"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/container"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/guest"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/initd"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/kmod"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/metrics"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/network"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/reaper"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/sandbox"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/server"
)

// Options are the agent's command-line flags: the paths it works on, so
// that the same binary runs in a guest and, for tests, on a host.
type Options struct {
	Version string
	// Cmdline is the kernel command line file, /proc/cmdline in the guest.
	Cmdline string
	// StateDir contains the container bundles and the OCI runtime's state.
	StateDir string
	// ResolvConf receives the sandbox's DNS settings.
	ResolvConf string
	// ModulesLoadDir lists kernel modules to load at start as PID 1.
	ModulesLoadDir string
	ProcDir        string
	SysDir         string
	CgroupDir      string
	// SetHostname lets CreateSandbox change the hostname.
	SetHostname bool
	// PowerOff lets the agent power the machine off on DestroySandbox or
	// exit; it is on only when the agent is PID 1.
	PowerOff bool
}

// defaultPath is the PATH of the agent when it runs as PID 1.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Run runs the agent until ctx ends, SIGTERM or SIGINT arrives, or the
// sandbox is destroyed.
func Run(ctx context.Context, opts Options) error {
	initDaemon := os.Getpid() == 1
	log := logrus.WithField("source", "kata-agent")

	// As PID 1 nothing is mounted yet, not even /proc for the command line,
	// and the kernel starts init without PATH, which the OCI runtime lookup
	// and the container processes need.
	if initDaemon {
		if err := initd.MountAll("/", initd.BootMounts); err != nil {
			return err
		}
		if os.Getenv("PATH") == "" {
			if err := os.Setenv("PATH", defaultPath); err != nil {
				return fmt.Errorf("setting PATH: %w", err)
			}
		}
	}

	cfg, err := config.ReadFile(opts.Cmdline)
	if err != nil {
		return err
	}
	logrus.SetLevel(cfg.LogLevel)
	for _, p := range cfg.Ignored {
		log.WithField("parameter", p).Warn("ignoring an unknown agent parameter on the kernel command line")
	}
	log.WithFields(logrus.Fields{"version": opts.Version, "pid1": initDaemon}).Info("agent starting")

	if !initDaemon {
		// Container processes forked by runc or crun become the agent's
		// children, so that the reaper gets their exit status.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("becoming a child subreaper: %w", err)
		}
	}

	ctx, stop := signal.NotifyContext(ctx, unix.SIGTERM, unix.SIGINT)
	defer stop()

	rp := reaper.New(log.WithField("subsystem", "reaper"))
	go rp.Run(ctx)
	// go-runc takes its process monitor from this package variable.
	runc.Monitor = rp

	modules, err := kmod.NewLoader(rp.CombinedOutput)
	if err != nil {
		return err
	}
	nw, err := network.New()
	if err != nil {
		log.WithError(err).Warn("netlink is not available; the network methods will fail")
		nw = nil
	} else {
		defer nw.Close()
	}

	var onDemand *kmod.OnDemand
	if initDaemon {
		onDemand = prepareGuest(log, modules, nw, opts.ModulesLoadDir)
	}

	// Without an OCI runtime the agent still serves Health and the guest
	// methods, and CreateContainer explains what is missing.
	runtimePath, err := container.FindRuntime(cfg.OCIRuntime)
	var sealed func() string
	if err != nil {
		log.WithError(err).Error("no OCI runtime: containers cannot be created")
	} else {
		log.WithField("runtime", runtimePath).Info("OCI runtime selected")
		sealed = container.SealInBackground(runtimePath, log)
	}

	sb := sandbox.New(sandbox.Config{
		Runtime: container.Runtime{
			Command:    runtimePath,
			Sealed:     sealed,
			StateRoot:  filepath.Join(opts.StateDir, "oci"),
			BundleRoot: filepath.Join(opts.StateDir, "bundles"),
			Reaper:     rp,
			Log:        log,
			NoPivot:    container.RootIsInitramfs(),
		},
		ResolvConf:  opts.ResolvConf,
		SetHostname: opts.SetHostname,
		Cgroups:     cgroupstats.Paths{Proc: opts.ProcDir, Cgroup: opts.CgroupDir},
		Modules:     modules,
		OnDemand:    onDemand,
		Sysfs:       opts.SysDir,
	}, log)

	destroyed := make(chan struct{})
	svc := server.New(server.Config{
		Version:    opts.Version,
		InitDaemon: initDaemon,
		Sandbox:    sb,
		Sysfs:      guest.Sysfs(opts.SysDir),
		Network:    nw,
		OnDemand:   onDemand,
		Metrics:    metrics.New(sb.Containers),
		OnDestroy:  func() { close(destroyed) },
		Log:        log.WithField("subsystem", "rpc"),
	})
	srv, err := svc.NewTTRPCServer()
	if err != nil {
		return err
	}

	addr := channel.Select(cfg.ServerAddr, config.DefaultSerialPort, config.DefaultVsockAddr, opts.SysDir)
	if strings.HasPrefix(addr, channel.SchemeVsock+"://") {
		if err := onDemand.Need(vsockTransportModule); err != nil {
			log.WithError(err).Error("failed to load the vsock transport; listening on vsock may fail")
		}
	}
	l, err := channel.Listen(addr, log.WithField("subsystem", "channel"))
	if err != nil {
		return err
	}
	log.WithField("address", addr).Info("agent listening")

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx, l) }()

	select {
	case <-ctx.Done():
		log.Info("agent stopping on a signal")
	case <-destroyed:
		log.Info("agent stopping after DestroySandbox")
	case err = <-serveErr:
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
	}
	if err := srv.Close(); err != nil {
		log.WithError(err).Warn("failed to close the ttrpc server")
	}

	if opts.PowerOff {
		log.Info("powering the guest off")
		return initd.PowerOff()
	}
	return err
}

// bootModules are the listed kernel modules that the agent loads before it
// serves: devices on virtio-mmio transports, the agent channel's included,
// appear only once virtio_mmio is loaded.
var bootModules = map[string]bool{"virtio_mmio": true}

// vsockTransportModule is the guest side of vhost-vsock, which the agent
// loads before it listens on a vsock channel.
const vsockTransportModule = "vmw_vsock_virtio_transport"

// prepareGuest does what systemd would: load the kernel modules the agent
// needs to serve and bring up loopback. It returns the other modules the
// image lists, for loading when a request first needs them. Failures are
// logged, because the agent can still serve requests without them.
func prepareGuest(log *logrus.Entry, modules *kmod.Loader, n *network.Network, modulesLoadDir string) *kmod.OnDemand {
	names, err := kmod.ModulesLoadD(modulesLoadDir)
	if err != nil {
		log.WithError(err).Error("failed to read the list of kernel modules")
	}

	var deferred []string
	start := time.Now()
	for _, name := range names {
		if !bootModules[name] {
			deferred = append(deferred, name)
			continue
		}
		if err := modules.Load(name, nil); err != nil {
			log.WithError(err).WithField("module", name).Error("failed to load a kernel module")
		}
	}
	log.WithFields(logrus.Fields{"deferred": deferred, "duration": time.Since(start)}).Info("boot kernel modules loaded")

	if n != nil {
		if err := n.SetLoopbackUp(); err != nil {
			log.WithError(err).Error("failed to bring up loopback")
		}
	}
	load := func(name string) error { return modules.Load(name, nil) }
	return kmod.NewOnDemand(load, deferred, log.WithField("subsystem", "kmod"))
}
