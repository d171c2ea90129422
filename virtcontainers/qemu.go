package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Production defaults of the QEMU backend.
const (
	// DefaultVMRunRoot is where each VM gets its directory of sockets, pid
	// file and console log: <root>/<sandbox id>/.
	DefaultVMRunRoot = "/run/vc/vm"

	defaultQEMUPath        = "/usr/bin/qemu-system-riscv64"
	defaultKVMDevice       = "/dev/kvm"
	defaultVhostVsock      = "/dev/vhost-vsock"
	defaultEntropySource   = "/dev/urandom"
	defaultStopTimeout     = 10 * time.Second
	defaultStartTimeout    = 2 * time.Minute
	defaultHotplugPorts    = 2
	stderrTailBytes        = 8192
	sharedDirName          = "shared"
	vhostFDInChild         = 3 // the first of exec.Cmd.ExtraFiles
	firstRootPortPCISlot   = 0x10
	defaultPowerdownWindow = 2 * time.Second
)

// ErrVMStarted reports a second StartVM on the same VM.
var ErrVMStarted = errors.New("VM already started")

// vmState is the lifecycle state of a Qemu VM: created, then running once
// StartVM succeeds, then stopped. A failed StartVM goes straight to stopped.
type vmState int

const (
	vmCreated vmState = iota
	vmRunning
	vmStopped
)

func (s vmState) String() string {
	switch s {
	case vmCreated:
		return "created"
	case vmRunning:
		return "running"
	case vmStopped:
		return "stopped"
	}
	return fmt.Sprintf("vmState(%d)", int(s))
}

// QemuOption sets an optional parameter of NewQemu.
type QemuOption func(*Qemu)

// WithRunRoot sets the directory under which the VM's directory is created,
// DefaultVMRunRoot unless set. Tests pass a temporary directory.
func WithRunRoot(dir string) QemuOption { return func(q *Qemu) { q.runRoot = dir } }

// WithSharedDir sets the host directory shared with the guest through
// virtio-fs or virtio-9p. Without it the backend shares <VM dir>/shared.
func WithSharedDir(dir string) QemuOption { return func(q *Qemu) { q.sharedDir = dir } }

// WithQEMUProber replaces the prober that runs the QEMU binary to read its
// version, AIA modes, accelerators and seccomp support.
func WithQEMUProber(p QEMUProber) QemuOption { return func(q *Qemu) { q.prober = p } }

// WithHostKVM replaces the check of /dev/kvm.
func WithHostKVM(k HostKVM) QemuOption { return func(q *Qemu) { q.kvm = k } }

// WithVhostVsockDevice sets the vhost-vsock device, /dev/vhost-vsock unless
// set. A path that cannot be opened makes the auto channel use serial.
func WithVhostVsockDevice(path string) QemuOption { return func(q *Qemu) { q.vhostVsockPath = path } }

// WithStopTimeout sets how long StopVM waits for QEMU to exit after
// system_powerdown and quit before it kills QEMU.
func WithStopTimeout(d time.Duration) QemuOption { return func(q *Qemu) { q.stopTimeout = d } }

// WithLogger sets the logger. The backend adds the fields subsystem=qemu and
// sandbox=<id>.
func WithLogger(l *logrus.Entry) QemuOption { return func(q *Qemu) { q.log = l } }

// Qemu is the QEMU backend of one sandbox VM on the riscv64 virt machine.
type Qemu struct {
	id      string
	cfg     HypervisorConfig
	agent   AgentConfig
	machine virtMachine
	paths   vmPaths

	runRoot        string
	sharedDir      string
	prober         QEMUProber
	kvm            HostKVM
	vhostVsockPath string
	stopTimeout    time.Duration
	log            *logrus.Entry

	// exited is closed when QEMU ends, or when a StartVM fails or a StopVM
	// runs before QEMU was started.
	exited     chan struct{}
	exitedOnce sync.Once

	// mu guards the fields below. StartVM, StopVM and the hot-plug methods
	// hold it for their whole run, so they never interleave.
	mu       sync.Mutex
	state    vmState
	res      *vmResources
	channel  AgentChannel
	guestCID uint32
	// rootPorts maps each pcie-root-port index to the id of the device
	// hot-plugged into it, "" when free.
	rootPorts []string
}

var _ Hypervisor = (*Qemu)(nil)

// NewQemu validates cfg for the riscv64 virt machine and returns a VM ready
// to start. It starts nothing and creates no file.
func NewQemu(id string, cfg HypervisorConfig, agent AgentConfig, opts ...QemuOption) (*Qemu, error) {
	if id == "" || id != filepath.Base(id) || id == "." || id == ".." {
		return nil, fmt.Errorf("sandbox id %q: %w: it must be a single path component", id, ErrInvalidConfig)
	}

	machine, err := newVirtMachine(cfg)
	if err != nil {
		return nil, err
	}

	q := &Qemu{
		id:             id,
		cfg:            cfg,
		agent:          agent,
		machine:        machine,
		runRoot:        DefaultVMRunRoot,
		vhostVsockPath: defaultVhostVsock,
		stopTimeout:    defaultStopTimeout,
		exited:         make(chan struct{}),
	}
	for _, opt := range opts {
		opt(q)
	}
	if q.prober == nil {
		q.prober = NewExecQEMUProber(WithFeatureCacheDir(DefaultQEMUFeatureCacheDir))
	}
	if q.kvm == nil {
		q.kvm = NewKVMDevice(defaultKVMDevice)
	}
	if q.log == nil {
		q.log = logrus.WithField("source", "virtcontainers")
	}
	q.log = q.log.WithFields(logrus.Fields{"subsystem": "qemu", "sandbox": id})
	q.paths = newVMPaths(q.runRoot, id)
	if q.cfg.Path == "" {
		q.cfg.Path = defaultQEMUPath
	}
	return q, nil
}

// Type implements Hypervisor.
func (q *Qemu) Type() HypervisorType { return QemuHypervisor }

// Exited implements Hypervisor.
func (q *Qemu) Exited() <-chan struct{} { return q.exited }

func (q *Qemu) closeExited() { q.exitedOnce.Do(func() { close(q.exited) }) }

// PIDs implements Hypervisor: QEMU first, then virtiofsd when it runs.
func (q *Qemu) PIDs() []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != vmRunning {
		return nil
	}
	pids := []int{q.res.qemu.pid()}
	if q.res.virtiofsd != nil {
		pids = append(pids, q.res.virtiofsd.pid())
	}
	return pids
}

// AgentURL implements Hypervisor.
func (q *Qemu) AgentURL() (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != vmRunning {
		return "", fmt.Errorf("agent URL of sandbox %s: %w", q.id, ErrVMNotRunning)
	}
	if q.channel == ChannelVsock {
		return fmt.Sprintf("vsock://%d:%d", q.guestCID, agentVsockPort), nil
	}
	return "unix://" + q.paths.agent, nil
}

// SharedFS implements Hypervisor.
func (q *Qemu) SharedFS() (SharedFSInfo, bool) {
	if q.machine.sharedFS == SharedFSNone {
		return SharedFSInfo{}, false
	}
	info := SharedFSInfo{Type: q.machine.sharedFS, Tag: sharedFSTag, HostPath: q.sharedDirPath()}
	if info.Type == SharedFS9P {
		info.Msize9p = q.cfg.Msize9p
	}
	return info, true
}

func (q *Qemu) sharedDirPath() string {
	if q.sharedDir != "" {
		return q.sharedDir
	}
	return filepath.Join(q.paths.dir, sharedDirName)
}

// ConsoleLogPath returns the file the guest console is copied to while the
// VM runs. StopVM removes it with the rest of the VM's directory.
func (q *Qemu) ConsoleLogPath() string { return q.paths.consoleLog }

// PauseVM implements Hypervisor.
func (q *Qemu) PauseVM(ctx context.Context) error { return q.runStateCommand(ctx, "stop") }

// ResumeVM implements Hypervisor.
func (q *Qemu) ResumeVM(ctx context.Context) error { return q.runStateCommand(ctx, "cont") }

func (q *Qemu) runStateCommand(ctx context.Context, command string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != vmRunning {
		return fmt.Errorf("QMP %s on sandbox %s: %w", command, q.id, ErrVMNotRunning)
	}
	return q.res.qmp.execute(ctx, command, nil, nil)
}

// QueryStatus returns QEMU's run state, such as "running" or "paused".
func (q *Qemu) QueryStatus(ctx context.Context) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != vmRunning {
		return "", fmt.Errorf("query-status on sandbox %s: %w", q.id, ErrVMNotRunning)
	}
	st, err := q.res.qmp.queryStatus(ctx)
	return st.Status, err
}

// newRand returns a generator for the random start of the guest CID search.
func newRand() *rand.Rand {
	return rand.New(rand.NewPCG(rand.Uint64(), uint64(os.Getpid())))
}
