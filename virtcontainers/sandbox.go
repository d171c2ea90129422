package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// SandboxConfig describes a sandbox: one VM with its agent, in which the
// sandbox's containers run.
type SandboxConfig struct {
	ID             string
	Hostname       string
	HypervisorType HypervisorType
	Hypervisor     HypervisorConfig
	Agent          AgentConfig
	Paths          Paths
	// DisableGuestSeccomp drops the containers' seccomp profiles, because the
	// guest kernel, not the host's, is the boundary they would protect.
	DisableGuestSeccomp bool
}

// Errors of sandbox and container operations.
var (
	ErrInvalidID          = errors.New("invalid id")
	ErrContainerExists    = errors.New("container already exists")
	ErrContainerNotFound  = errors.New("container not found")
	ErrSandboxNotRunning  = errors.New("sandbox is not running")
	ErrRootfsNotFound     = errors.New("container rootfs not found")
	ErrNoSharedFilesystem = errors.New("hypervisor shares no filesystem")
)

// validID accepts container and sandbox ids as containerd and runc do: they
// become path components on the host and in the guest.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// Sandbox is a running VM with its agent and containers.
type Sandbox struct {
	cfg        SandboxConfig
	log        *logrus.Entry
	hypervisor Hypervisor
	agent      Agent
	// sharedFS is the shared directory's transport and mount tag. hasSharedFS
	// is false for backends that share no filesystem.
	sharedFS    SharedFSInfo
	hasSharedFS bool

	// mu guards containers, state, stopping and blockDevices.
	mu         sync.Mutex
	containers map[string]*Container
	state      SandboxState
	// stopping is set once teardown begins, so that the VMM's exit is
	// expected from then on.
	stopping bool
	// blockDevices counts the block devices attached for containers, to
	// give each a unique BlockDevice.ID.
	blockDevices int
}

// sandboxDeps are the collaborators CreateSandbox uses; tests replace them.
type sandboxDeps struct {
	newHypervisor func(HypervisorType, HypervisorParams) (Hypervisor, error)
	dialAgent     func(ctx context.Context, url string) (Agent, error)
}

var productionDeps = sandboxDeps{newHypervisor: NewHypervisor, dialAgent: dialKataAgent}

// CreateSandbox starts the sandbox's VM, waits for its agent within the
// configured dial timeout and prepares the guest for containers. On error
// everything it started is stopped and removed again.
func CreateSandbox(ctx context.Context, cfg SandboxConfig) (*Sandbox, error) {
	return createSandbox(ctx, cfg, productionDeps)
}

func createSandbox(ctx context.Context, cfg SandboxConfig, deps sandboxDeps) (s *Sandbox, err error) {
	if !validID.MatchString(cfg.ID) {
		return nil, fmt.Errorf("sandbox id %q: %w: use letters, digits, '_', '.' and '-'", cfg.ID, ErrInvalidID)
	}

	s = &Sandbox{
		cfg:        cfg,
		log:        logrus.WithFields(logrus.Fields{"source": "virtcontainers", "subsystem": "sandbox", "sandbox": cfg.ID}),
		containers: map[string]*Container{},
		state:      SandboxState{ID: cfg.ID, HypervisorType: cfg.HypervisorType},
	}
	defer func() {
		if err != nil {
			s.log.WithError(err).Error("sandbox creation failed, cleaning up")
			if cerr := s.teardown(context.WithoutCancel(ctx)); cerr != nil {
				s.log.WithError(cerr).Error("cleanup after failed sandbox creation")
			}
		}
	}()

	sharedDir := cfg.Paths.SharedDir(cfg.ID)
	if _, err := os.Stat(filepath.Dir(sharedDir)); err == nil {
		// A sandbox of the same id died without cleaning up; containerd
		// never runs two with one id, so what is there is stale.
		s.log.Warn("removing the shared directory a previous sandbox of this id left behind")
		for _, err := range unmountUnder(filepath.Dir(sharedDir)) {
			s.log.WithError(err).Warn("unmounting a stale mount")
		}
		if err := os.RemoveAll(filepath.Dir(sharedDir)); err != nil {
			return s, fmt.Errorf("removing stale shared directory of sandbox %s: %w", cfg.ID, err)
		}
	}

	if err := s.makeDir(cfg.Paths.SandboxDir(cfg.ID)); err != nil {
		return s, err
	}
	if err := s.makeDir(filepath.Dir(sharedDir)); err != nil {
		return s, err
	}
	if err := s.makeDir(sharedDir); err != nil {
		return s, err
	}

	s.hypervisor, err = deps.newHypervisor(cfg.HypervisorType, HypervisorParams{
		ID: cfg.ID, Config: cfg.Hypervisor, Agent: cfg.Agent, Paths: cfg.Paths, SharedDir: sharedDir,
	})
	if err != nil {
		return s, err
	}

	start := time.Now()
	s.log.WithField("hypervisor", cfg.HypervisorType).Info("starting VM")
	if err := s.hypervisor.StartVM(ctx); err != nil {
		return s, fmt.Errorf("starting VM of sandbox %s: %w", cfg.ID, err)
	}
	if err := s.persist(func(st *SandboxState) { st.HypervisorPIDs = s.hypervisor.PIDs() }); err != nil {
		return s, err
	}

	if err := s.connectAgent(ctx, deps); err != nil {
		return s, fmt.Errorf("%w%s", err, s.consoleTail())
	}
	s.log.WithField("elapsed", time.Since(start).Round(time.Millisecond)).Info("agent ready")

	req := AgentSandbox{SandboxID: cfg.ID, Hostname: cfg.Hostname, KernelModules: cfg.Agent.KernelModules}
	if fs, ok := s.hypervisor.SharedFS(); ok {
		s.sharedFS, s.hasSharedFS = fs, true
		req.Storages = append(req.Storages, sharedFSStorage(fs))
	}
	if err := s.agent.CreateSandbox(ctx, req); err != nil {
		return s, fmt.Errorf("agent CreateSandbox for sandbox %s: %w", cfg.ID, err)
	}

	go s.watchVM()
	return s, nil
}

// connectAgent dials the agent and waits for its health check to pass,
// within the configured dial timeout. It shares waitForAgent's retry loop,
// so a VMM that exits ends the wait at once.
func (s *Sandbox) connectAgent(ctx context.Context, deps sandboxDeps) error {
	timeout := s.cfg.Agent.DialTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}

	check := func(ctx context.Context, url string) error {
		if s.agent == nil {
			s.log.WithField("url", url).Debug("dialing agent")
			a, err := deps.dialAgent(ctx, url)
			if err != nil {
				return err
			}
			s.agent = a
		}
		return s.agent.Check(ctx)
	}
	if err := waitForAgent(ctx, s.hypervisor, check, timeout); err != nil {
		return fmt.Errorf("sandbox %s: %w", s.cfg.ID, err)
	}
	return nil
}

// consoleTailLines is how much of the guest console a failed start quotes.
const consoleTailLines = 20

// consoleTail returns the end of the guest console log, formatted to follow
// an error message, or "" when the backend keeps no console log. The log
// goes with the VM's directory at teardown, so a failed start quotes it.
func (s *Sandbox) consoleTail() string {
	c, ok := s.hypervisor.(interface{ ConsoleLogPath() string })
	if !ok {
		return ""
	}
	data, err := os.ReadFile(c.ConsoleLogPath())
	if err != nil || len(data) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > consoleTailLines {
		lines = lines[len(lines)-consoleTailLines:]
	}
	s.log.WithField("console", strings.Join(lines, "\n")).Error("guest console at the failure")
	return "\nlast lines of the guest console:\n" + strings.Join(lines, "\n")
}

// sharedFSStorage describes the shared filesystem mount for CreateSandbox.
func sharedFSStorage(fs SharedFSInfo) AgentStorage {
	st := AgentStorage{Source: fs.Tag, MountPoint: guestSharedDir}
	switch fs.Type {
	case SharedFS9P:
		st.Driver, st.FSType = "9p", "9p"
		st.Options = []string{"trans=virtio", "version=9p2000.L", "cache=mmap"}
		if fs.Msize9p != 0 {
			st.Options = append(st.Options, fmt.Sprintf("msize=%d", fs.Msize9p))
		}
	default:
		st.Driver, st.FSType = "virtio-fs", "virtiofs"
		st.Options = []string{"nodev"}
	}
	return st
}

// watchVM logs when the VMM ends without being asked to.
func (s *Sandbox) watchVM() {
	<-s.hypervisor.Exited()
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if !stopping {
		s.log.Warn("VMM exited")
	}
}

// ID returns the sandbox id.
func (s *Sandbox) ID() string { return s.cfg.ID }

// Hypervisor returns the sandbox's VMM backend.
func (s *Sandbox) Hypervisor() Hypervisor { return s.hypervisor }

// Agent returns the client of the sandbox's agent.
func (s *Sandbox) Agent() Agent { return s.agent }

// Container returns the container with the given id.
func (s *Sandbox) Container(id string) (*Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s in sandbox %s: %w", id, s.cfg.ID, ErrContainerNotFound)
	}
	return c, nil
}

// ContainerCount returns how many containers the sandbox holds.
func (s *Sandbox) ContainerCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.containers)
}

// Delete destroys the sandbox: the agent ends its containers, the VM stops,
// and every host file and mount of the sandbox is removed.
func (s *Sandbox) Delete(ctx context.Context) error {
	s.log.Info("deleting sandbox")
	if s.agent != nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.agent.DestroySandbox(dctx); err != nil {
			s.log.WithError(err).Warn("agent DestroySandbox failed; stopping the VM anyway")
		}
		cancel()
	}
	return s.teardown(ctx)
}

// teardown stops the VM and removes what the sandbox created on the host, in
// reverse order. It is the one cleanup path for failed creation and delete.
func (s *Sandbox) teardown(ctx context.Context) error {
	var errs []error

	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()

	if s.agent != nil {
		if err := s.agent.Close(); err != nil {
			s.log.WithError(err).Debug("closing agent connection")
		}
	}
	if s.hypervisor != nil {
		if err := s.hypervisor.StopVM(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping VM of sandbox %s: %w", s.cfg.ID, err))
		}
	}

	// The stopped VM holds no drives, so the containers' block devices need
	// no detaching. Only their images and host mounts are left to remove.
	s.mu.Lock()
	st := s.state
	containers := make([]*Container, 0, len(s.containers))
	for _, c := range s.containers {
		containers = append(containers, c)
	}
	clear(s.containers)
	s.mu.Unlock()

	for _, c := range containers {
		if err := c.removeHostState(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, undoHostState(st)...)
	return errors.Join(errs...)
}

// newBlockDeviceID returns a BlockDevice.ID no other device of the sandbox
// has. Container ids do not serve, because QEMU limits its block node names
// to 31 characters and CRI's container ids have 64.
func (s *Sandbox) newBlockDeviceID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blockDevices++
	return fmt.Sprintf("rootfs-%d", s.blockDevices)
}

// undoHostState unmounts st's mounts and removes its directories, newest
// first.
func undoHostState(st SandboxState) []error {
	var errs []error
	for i := len(st.Mounts) - 1; i >= 0; i-- {
		if err := unmount(st.Mounts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(st.Dirs) - 1; i >= 0; i-- {
		if err := os.RemoveAll(st.Dirs[i]); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", st.Dirs[i], err))
		}
	}
	return errs
}

// makeDir creates dir and records it for teardown.
func (s *Sandbox) makeDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s for sandbox %s: %w", dir, s.cfg.ID, err)
	}
	return s.persist(func(st *SandboxState) { st.Dirs = append(st.Dirs, dir) })
}

// persist applies change to the sandbox state and saves it, once the
// sandbox directory exists.
func (s *Sandbox) persist(change func(*SandboxState)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(&s.state)

	dir := s.cfg.Paths.SandboxDir(s.cfg.ID)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	return saveState(dir, &s.state)
}
