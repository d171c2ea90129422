package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
)

// Firecracker backend defaults.
const (
	// DefaultRunRoot is the runtime's state directory on a production host.
	DefaultRunRoot = "/run/vc"

	fcDefaultBootTimeout = 10 * time.Second
	fcDefaultStopTimeout = 15 * time.Second
	fcPollInterval       = 10 * time.Millisecond

	// fcMaxPlaceholderDrives is the number of container drives when the
	// interrupt sources do not bound it, as in Kata's Firecracker driver.
	fcMaxPlaceholderDrives = 8

	// fcGuestCID is the guest's vsock CID, and fcAgentPort the kata-agent's
	// vsock port.
	fcGuestCID  = 3
	fcAgentPort = 1024
)

// Host files of a Firecracker VM, in its VM directory.
const (
	fcAPISocket     = "firecracker.socket"
	fcVsockSocket   = "kata.hvsock"
	fcLogFIFO       = "logs.fifo"
	fcMetricsFIFO   = "metrics.fifo"
	fcRootfsDriveID = "rootfs"
)

// fcInstanceID matches the instance ids Firecracker and the jailer accept
// (--id), which also name the VM directory: letters, digits and hyphens, at
// most 64 (Firecracker's docs/jailer.md).
var fcInstanceID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// fcMaxVMIDLen bounds the sandbox id in VM directory paths. Unix socket
// paths are limited to 107 bytes (108 with the NUL in sockaddr_un), and
// /run/vc/firecracker/<64-character id>/root/firecracker.socket is 108.
const fcMaxVMIDLen = 32

// maxUnixSocketPath is the longest path a Unix socket can be bound to or
// connected at on Linux.
const maxUnixSocketPath = 107

// FirecrackerOptions are the Firecracker backend's settings that do not come
// from configuration.toml.
type FirecrackerOptions struct {
	// RunRoot is the runtime's state directory: DefaultRunRoot in
	// production, a temporary directory in tests. The VM directory is
	// <RunRoot>/<VMM binary name>/<sandbox id>/root, the jailer's chroot.
	RunRoot string
	// Logger receives the backend's logs and the VMM's own log and
	// metrics; nil logs to logrus's standard logger.
	Logger *logrus.Entry
	// Networks are the tap devices to attach as virtio-net interfaces.
	Networks []FirecrackerNetwork
	// ContainerDrives is the number of placeholder drives for container
	// block devices; 0 takes as many as the interrupt sources leave, up
	// to 8.
	ContainerDrives int
	// InterruptSources overrides how many devices the VMM's interrupt
	// controller serves, for a Firecracker build whose number differs
	// from the architecture's default (10 on riscv64); 0 keeps the default.
	InterruptSources int
	// JailerUID and JailerGID are the ids the jailer runs Firecracker as.
	JailerUID, JailerGID int
	// BootTimeout bounds the wait for the API socket and for the
	// instance to report Running; 10 s when zero.
	BootTimeout time.Duration
	// StopTimeout is how long StopVM waits after SIGTERM before SIGKILL;
	// 15 s when zero.
	StopTimeout time.Duration
}

// FirecrackerNetwork is a tap device attached to the guest.
type FirecrackerNetwork struct {
	ID          string
	HostDevName string
	GuestMAC    string
	MTU         uint32
}

// fcState is the lifecycle state of a Firecracker VM.
type fcState int

const (
	fcStateNew fcState = iota
	fcStateRunning
	fcStatePaused
	fcStateStopped
)

func (s fcState) String() string {
	return [...]string{"new", "running", "paused", "stopped"}[s]
}

// Firecracker is the Hypervisor backend for the Firecracker VMM, configured
// through Firecracker's HTTP API over its Unix socket. It shares no
// filesystem with the guest, so container root filesystems reach the guest
// as block devices filling placeholder drives.
type Firecracker struct {
	id string
	// vmID is the instance id given to Firecracker and the jailer and the
	// name of the VM directory: the sandbox id, cut to fcMaxVMIDLen.
	vmID  string
	hc    HypervisorConfig
	agent AgentConfig
	opts  FirecrackerOptions
	arch  fcArch
	log   *logrus.Entry

	// vmDir is the VM directory and jail root, as a host path. apiPath
	// converts its file names to the paths sent in API requests.
	vmDir  string
	jailed bool

	client *firecracker.Client

	// exited is closed when the Firecracker process ends; pid is its
	// process id, 0 when it does not run. Neither needs mu, so that
	// monitors are not held up by a StopVM in progress.
	exited chan struct{}
	pid    atomic.Int64
	// stopping is set before the backend signals Firecracker, so that an
	// exit the backend did not cause is logged as a warning.
	stopping atomic.Bool
	// stderrTail keeps the end of Firecracker's stderr for error messages.
	stderrTail tailBuffer

	// mu guards every field below.
	mu       sync.Mutex
	state    fcState
	cmd      *exec.Cmd
	drains   []*fifoDrain
	cleanups []func() error
	// drives are the placeholder drives, in attach order.
	drives []fcDrive
}

var _ Hypervisor = (*Firecracker)(nil)

// NewFirecracker validates hc for the Firecracker backend and returns a VM
// that StartVM boots. Nothing is created on the host until StartVM.
func NewFirecracker(id string, hc HypervisorConfig, agent AgentConfig, opts FirecrackerOptions) (*Firecracker, error) {
	if !fcInstanceID.MatchString(id) {
		return nil, fmt.Errorf("invalid sandbox id %q for Firecracker: Firecracker and its jailer accept 1 to 64 letters, digits and hyphens", id)
	}
	if opts.RunRoot == "" {
		opts.RunRoot = DefaultRunRoot
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = fcDefaultBootTimeout
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = fcDefaultStopTimeout
	}
	log := opts.Logger
	if log == nil {
		log = logrus.NewEntry(logrus.StandardLogger())
	}
	log = log.WithFields(logrus.Fields{"source": "virtcontainers", "subsystem": "firecracker", "sandbox": id})

	fc := &Firecracker{id: id, hc: hc, agent: agent, opts: opts, arch: newFCArch(), log: log, exited: make(chan struct{})}
	if err := fc.validate(); err != nil {
		return nil, err
	}

	fc.jailed = hc.JailerPath != ""
	fc.vmID = id
	if len(fc.vmID) > fcMaxVMIDLen {
		fc.vmID = fc.vmID[:fcMaxVMIDLen]
	}
	fc.vmDir = filepath.Join(opts.RunRoot, filepath.Base(hc.Path), fc.vmID, "root")
	for _, name := range []string{fcAPISocket, fcVsockSocket} {
		if p := filepath.Join(fc.vmDir, name); len(p) > maxUnixSocketPath {
			return nil, fmt.Errorf("socket path %s is %d bytes, longer than the %d a Unix socket allows: use a shorter run root than %s",
				p, len(p), maxUnixSocketPath, opts.RunRoot)
		}
	}
	fc.client = firecracker.NewClient(filepath.Join(fc.vmDir, fcAPISocket))
	return fc, nil
}

// validate checks the configuration before anything is started.
func (fc *Firecracker) validate() error {
	hc := fc.hc
	if hc.Path == "" {
		return fmt.Errorf("missing Firecracker binary: set path in [hypervisor.firecracker]")
	}
	if err := checkExecutable("Firecracker binary", hc.Path); err != nil {
		return err
	}
	if err := checkPathInGlobs("path", hc.Path, "valid_hypervisor_paths", hc.ValidHypervisorPaths); err != nil {
		return err
	}
	if hc.JailerPath != "" {
		if err := checkPathInGlobs("jailer_path", hc.JailerPath, "valid_jailer_paths", hc.ValidJailerPaths); err != nil {
			return err
		}
		if err := checkExecutable("jailer binary", hc.JailerPath); err != nil {
			return err
		}
	}

	if hc.KernelPath == "" {
		return fmt.Errorf("missing guest kernel: set kernel in [hypervisor.firecracker]")
	}
	if err := fc.arch.checkBootAssets(hc.KernelPath, hc.InitrdPath); err != nil {
		return err
	}
	if hc.ImagePath == "" {
		return fmt.Errorf("missing guest image: Firecracker boots from a block device, set image in [hypervisor.firecracker]")
	}
	if _, err := os.Stat(hc.ImagePath); err != nil {
		return fmt.Errorf("guest image: %w", err)
	}
	if hc.InitrdPath != "" {
		return fmt.Errorf("both image %s and initrd %s are set: set one of them in [hypervisor.firecracker]", hc.ImagePath, hc.InitrdPath)
	}

	if hc.BlockDeviceDriver != "" && hc.BlockDeviceDriver != BlockDriverVirtioMMIO {
		return fmt.Errorf("block_device_driver %q: Firecracker attaches drives as virtio-mmio only, set block_device_driver = %q",
			hc.BlockDeviceDriver, BlockDriverVirtioMMIO)
	}
	if hc.DefaultVCPUs > 32 {
		return fmt.Errorf("default_vcpus %d: Firecracker supports 1 to 32 vCPUs", hc.DefaultVCPUs)
	}

	drives, err := fc.placeholderDrives()
	if err != nil {
		return err
	}
	fc.opts.ContainerDrives = drives
	return nil
}

// placeholderDrives returns the number of container drives, checked against
// the interrupt sources of the VMM: each virtio-mmio device (guest image,
// container drives, vsock, network interfaces) and the serial port takes one.
func (fc *Firecracker) placeholderDrives() (int, error) {
	fixed := 2 + len(fc.opts.Networks) // guest image and vsock
	serial := ""
	if fc.arch.hasSerial(fc.hc.EnableDebug || hasConsoleParam(fc.hc.KernelParams)) {
		fixed++
		serial = " + serial port"
	}
	limit := fc.arch.interruptSources()
	if fc.opts.InterruptSources > 0 {
		limit = fc.opts.InterruptSources
	}
	if fc.opts.ContainerDrives < 0 {
		return 0, fmt.Errorf("invalid number of container drives %d: want 0 or more", fc.opts.ContainerDrives)
	}

	drives := fc.opts.ContainerDrives
	if drives == 0 {
		drives = fcMaxPlaceholderDrives
		if limit > 0 {
			drives = min(drives, limit-fixed)
		}
	}

	total := fixed + drives
	if limit > 0 && (total > limit || drives < 1) {
		return 0, fmt.Errorf("too many devices for Firecracker's interrupt controller: %d devices (guest image + %d container drives + vsock + %d network interfaces%s) but Firecracker's interrupt controller has %d interrupt sources: use fewer network interfaces or container drives, or drop the serial console (enable_debug, console= in kernel_params)",
			total, drives, len(fc.opts.Networks), serial, limit)
	}
	return drives, nil
}

// hasConsoleParam reports whether the user's kernel parameters select a
// console, which makes the riscv64 port add its serial port.
func hasConsoleParam(params []string) bool {
	for _, p := range params {
		if strings.HasPrefix(p, "console=") {
			return true
		}
	}
	return false
}

// Type returns FirecrackerHypervisor.
func (fc *Firecracker) Type() HypervisorType { return FirecrackerHypervisor }

// VMDir returns the VM directory, which is also the jailer's chroot.
func (fc *Firecracker) VMDir() string { return fc.vmDir }

// AgentURL returns the hybrid vsock address of the kata-agent:
// hvsock://<VM directory>/kata.hvsock:1024. The agent client connects to the
// Unix socket and sends "CONNECT 1024\n".
func (fc *Firecracker) AgentURL() (string, error) {
	return fmt.Sprintf("hvsock://%s:%d", filepath.Join(fc.vmDir, fcVsockSocket), fcAgentPort), nil
}

// SharedFS returns ok=false: Firecracker shares no filesystem with the
// guest, so containers get block devices through HotplugBlock.
func (fc *Firecracker) SharedFS() (SharedFSInfo, bool) { return SharedFSInfo{}, false }

// PIDs returns the Firecracker process (the jailer execs into it), or nil
// when the VM does not run.
func (fc *Firecracker) PIDs() []int {
	pid := fc.pid.Load()
	if pid == 0 {
		return nil
	}
	return []int{int(pid)}
}

// Exited is closed when the Firecracker process ends. It stays open for a
// VM whose process never started.
func (fc *Firecracker) Exited() <-chan struct{} { return fc.exited }

// PauseVM freezes the guest's vCPUs through PATCH /vm.
func (fc *Firecracker) PauseVM(ctx context.Context) error {
	return fc.setVMState(ctx, firecracker.VMPaused, fcStateRunning, fcStatePaused)
}

// ResumeVM thaws the guest's vCPUs through PATCH /vm.
func (fc *Firecracker) ResumeVM(ctx context.Context) error {
	return fc.setVMState(ctx, firecracker.VMResumed, fcStatePaused, fcStateRunning)
}

func (fc *Firecracker) setVMState(ctx context.Context, want firecracker.VMState, from, to fcState) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.state != from {
		return fmt.Errorf("setting Firecracker VM %s to %s: VM is %s, want %s: %w", fc.id, want, fc.state, from, ErrVMNotRunning)
	}
	if err := fc.client.PatchVM(ctx, want); err != nil {
		return fmt.Errorf("setting Firecracker VM %s to %s: %w", fc.id, want, err)
	}
	fc.state = to
	fc.log.WithField("state", want).Info("VM state changed")
	return nil
}

// StopVM sends SIGTERM to Firecracker, then SIGKILL once StopTimeout or ctx
// expires, and removes the VM directory. Firecracker's riscv64 port rejects
// SendCtrlAltDel, so signals are the only stop request it serves.
func (fc *Firecracker) StopVM(ctx context.Context) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.state == fcStateNew || fc.state == fcStateStopped {
		return nil
	}
	fc.log.Info("stopping VM")
	err := fc.terminate(ctx)
	if cerr := fc.cleanup(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	fc.state = fcStateStopped
	return err
}

// terminate ends the Firecracker process: SIGTERM, then SIGKILL after the
// stop timeout. fc.mu is held.
func (fc *Firecracker) terminate(ctx context.Context) error {
	if fc.cmd == nil || fc.cmd.Process == nil {
		return nil
	}
	select {
	case <-fc.exited:
		return nil
	default:
	}

	pid := fc.cmd.Process.Pid
	fc.stopping.Store(true)
	if err := fc.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		fc.log.WithError(err).WithField("pid", pid).Warn("SIGTERM to Firecracker failed")
	}
	timer := time.NewTimer(fc.opts.StopTimeout)
	defer timer.Stop()
	select {
	case <-fc.exited:
		fc.log.WithField("pid", pid).Info("Firecracker exited after SIGTERM")
		return nil
	case <-timer.C:
		fc.log.WithField("pid", pid).WithField("timeout", fc.opts.StopTimeout).Warn("Firecracker still runs after SIGTERM; sending SIGKILL")
	case <-ctx.Done():
		fc.log.WithField("pid", pid).WithError(ctx.Err()).Warn("stop cancelled; sending SIGKILL to Firecracker")
	}

	if err := fc.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing Firecracker process %d: %w", pid, err)
	}
	<-fc.exited
	return nil
}

// cleanup undoes what StartVM set up, in reverse order: drains, links and
// mounts in the jail, the VM directory. It runs once; fc.mu is held.
func (fc *Firecracker) cleanup() error {
	var errs []error
	for i := range fc.drives {
		if undo := fc.drives[i].undo; undo != nil {
			if err := undo(); err != nil {
				errs = append(errs, err)
			}
			fc.drives[i].undo = nil
		}
	}
	for _, d := range fc.drains {
		d.close()
	}
	fc.drains = nil
	for i := len(fc.cleanups) - 1; i >= 0; i-- {
		if err := fc.cleanups[i](); err != nil {
			errs = append(errs, err)
		}
	}
	fc.cleanups = nil
	if len(errs) > 0 {
		fc.log.WithError(errors.Join(errs...)).Warn("cleanup of the VM's host files was incomplete")
	}
	return errors.Join(errs...)
}

// onCleanup registers an undo step for cleanup; fc.mu is held.
func (fc *Firecracker) onCleanup(f func() error) { fc.cleanups = append(fc.cleanups, f) }

// checkExecutable returns an error that names the file and the setting when
// path is not an executable regular file.
func checkExecutable(what, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s %s is not an executable file (mode %s)", what, path, st.Mode())
	}
	return nil
}

// checkPathInGlobs accepts path when globs is empty or one of the globs,
// expanded against the filesystem as upstream Kata does with filepath.Glob,
// yields it.
func checkPathInGlobs(key, path, listKey string, globs []string) error {
	if len(globs) == 0 {
		return nil
	}
	clean := filepath.Clean(path)
	for _, g := range globs {
		matches, err := filepath.Glob(g)
		if err != nil {
			return fmt.Errorf("invalid glob %q in %s: %w", g, listKey, err)
		}
		for _, m := range matches {
			if filepath.Clean(m) == clean {
				return nil
			}
		}
	}
	return fmt.Errorf("%s %s is not in %s %q: add it there or use an allowed path", key, path, listKey, globs)
}
