// Package sandbox is the agent's state for the one sandbox a guest runs:
// its settings, its shared storages and its containers.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/cgroupstats"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/container"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/kmod"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/storage"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/ocispec"
)

// Config is the part of the agent's configuration that the sandbox uses.
type Config struct {
	Runtime container.Runtime
	// ResolvConf is the file CreateSandbox writes the DNS settings to.
	ResolvConf string
	// SetHostname applies CreateSandbox's hostname to the guest's UTS
	// namespace; off when the agent runs on a host for tests.
	SetHostname bool
	Cgroups     cgroupstats.Paths
	Modules     *kmod.Loader
	// OnDemand loads the guest image's listed modules that storages and
	// devices need, on first use; nil when the init system loaded them.
	OnDemand *kmod.OnDemand
	// Sysfs is the sysfs mount, /sys in the guest, for finding hot-plugged
	// block devices.
	Sysfs string
}

// idPattern is the syntax of container and exec ids: what containerd and
// Kubernetes generate, and safe as one path component.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ValidateID accepts a container or exec id usable as a file name.
func ValidateID(kind, id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("invalid %s id %q: use up to 128 letters, digits, '_', '.' and '-', starting with a letter or digit: %w", kind, id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Sandbox holds the containers of the sandbox.
type Sandbox struct {
	cfg Config
	log *logrus.Entry

	mu sync.Mutex
	// The fields below are guarded by mu.
	id         string
	created    bool
	containers map[string]*container.Container
	// pending reserves ids of containers being created.
	pending map[string]bool

	// mountMu serialises mounting and unmounting, which can wait seconds for
	// a hot-plugged device, without blocking requests that only look up a
	// container. When both are held, mu is taken first.
	mountMu sync.Mutex
	// mounts counts the users of each mount point the sandbox mounted;
	// guarded by mountMu.
	mounts map[string]int
	// containerMounts lists the storage mount points of each container, ""
	// for the sandbox's own; guarded by mountMu.
	containerMounts map[string][]string

	// hooks are the guest's OCI hooks for every container, or nil; guarded
	// by mu.
	hooks *specs.Hooks

	// pidns is the shared PID namespace, or nil; guarded by mu.
	pidns *pidNamespace

	// oomEvents carries ids of containers with an OOM kill to GetOOMEvent.
	oomEvents chan string
}

// New returns an empty sandbox.
func New(cfg Config, log *logrus.Entry) *Sandbox {
	return &Sandbox{
		cfg:             cfg,
		log:             log,
		containers:      make(map[string]*container.Container),
		pending:         make(map[string]bool),
		mounts:          make(map[string]int),
		containerMounts: make(map[string][]string),
		oomEvents:       make(chan string, oomQueue),
	}
}

// Create applies CreateSandbox: kernel modules, hostname, DNS and storages.
func (s *Sandbox) Create(ctx context.Context, req *grpc.CreateSandboxRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.created {
		return fmt.Errorf("sandbox %s: %w", s.id, errdefs.ErrAlreadyExists)
	}
	log := s.log.WithField("sandbox", req.SandboxId)

	for _, m := range req.KernelModules {
		if m == nil {
			continue
		}
		if s.cfg.Modules == nil {
			return fmt.Errorf("loading kernel module %s: no module loader configured: %w", m.Name, errdefs.ErrUnimplemented)
		}
		if err := s.cfg.Modules.Load(m.Name, m.Parameters); err != nil {
			return fmt.Errorf("sandbox %s: %w", req.SandboxId, err)
		}
		log.WithField("module", m.Name).Info("kernel module loaded")
	}

	if req.Hostname != "" {
		if err := s.setHostname(req.Hostname); err != nil {
			return err
		}
	}
	if len(req.Dns) > 0 {
		if err := writeResolvConf(s.cfg.ResolvConf, req.Dns); err != nil {
			return err
		}
	}

	if req.GuestHookPath != "" {
		if err := storage.ValidatePath(req.GuestHookPath); err != nil {
			return fmt.Errorf("sandbox %s: guest hook path: %w", req.SandboxId, err)
		}
		hooks, err := guestHooks(req.GuestHookPath)
		if err != nil {
			return fmt.Errorf("sandbox %s: %w", req.SandboxId, err)
		}
		s.hooks = hooks
	}

	mounted, err := s.mountStorages(ctx, req.Storages)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", req.SandboxId, err)
	}
	if req.SandboxPidns {
		if err := s.startPidNamespace(); err != nil {
			if rerr := s.releaseMounts(mounted); rerr != nil {
				log.WithError(rerr).Error("failed to unmount the sandbox's storages")
			}
			return fmt.Errorf("sandbox %s: %w", req.SandboxId, err)
		}
	}
	s.mountMu.Lock()
	s.containerMounts[""] = mounted
	s.mountMu.Unlock()

	s.id = req.SandboxId
	s.created = true
	log.Info("sandbox created")
	return nil
}

func (s *Sandbox) setHostname(name string) error {
	if len(name) > 64 || strings.ContainsAny(name, "/ \n\x00") {
		return fmt.Errorf("invalid hostname %q: %w", name, errdefs.ErrInvalidArgument)
	}
	if !s.cfg.SetHostname {
		s.log.WithField("hostname", name).Debug("not setting the hostname: disabled for this agent")
		return nil
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("setting hostname %q: %w", name, err)
	}
	return nil
}

// writeResolvConf writes one resolv.conf line per DNS entry; the runtime
// sends whole lines such as "nameserver 10.0.0.1".
func writeResolvConf(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		if strings.ContainsAny(l, "\n\r\x00") {
			return fmt.Errorf("invalid DNS entry %q: it must be one line: %w", l, errdefs.ErrInvalidArgument)
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// mountStorages mounts storages, sharing mount points already mounted by
// counting their users. On failure it unmounts what it mounted.
func (s *Sandbox) mountStorages(ctx context.Context, storages []*grpc.Storage) ([]string, error) {
	s.mountMu.Lock()
	defer s.mountMu.Unlock()

	var mounted []string
	done := false
	defer func() {
		if !done {
			if err := s.releaseMountsLocked(mounted); err != nil {
				s.log.WithError(err).Error("failed to unmount storages after a failed mount")
			}
		}
	}()

	for _, st := range storages {
		if st == nil {
			return nil, fmt.Errorf("storage is nil: %w", errdefs.ErrInvalidArgument)
		}
		if s.mounts[st.MountPoint] > 0 {
			s.mounts[st.MountPoint]++
			mounted = append(mounted, st.MountPoint)
			continue
		}
		if err := s.cfg.OnDemand.Need(storage.Modules(st)...); err != nil {
			return nil, fmt.Errorf("storage %s at %s: %w", st.Source, st.MountPoint, err)
		}
		if err := storage.Mount(ctx, st, s.cfg.Sysfs); err != nil {
			return nil, err
		}
		s.mounts[st.MountPoint] = 1
		mounted = append(mounted, st.MountPoint)
		s.log.WithFields(logrus.Fields{"driver": st.Driver, "source": st.Source, "mount-point": st.MountPoint}).Info("storage mounted")
	}
	done = true
	return mounted, nil
}

// releaseMounts drops one user of each mount point and unmounts those
// without users, in reverse order.
func (s *Sandbox) releaseMounts(mountPoints []string) error {
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	return s.releaseMountsLocked(mountPoints)
}

// releaseMountsLocked is releaseMounts for a caller that holds s.mountMu.
func (s *Sandbox) releaseMountsLocked(mountPoints []string) error {
	var errs []error
	for i := len(mountPoints) - 1; i >= 0; i-- {
		mp := mountPoints[i]
		s.mounts[mp]--
		if s.mounts[mp] > 0 {
			continue
		}
		delete(s.mounts, mp)
		if err := storage.Unmount(mp); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Destroy removes every container and unmounts every storage.
func (s *Sandbox) Destroy(ctx context.Context) error {
	s.mu.Lock()
	ids := make([]string, 0, len(s.containers))
	for id := range s.containers {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)

	var errs []error
	for _, id := range ids {
		if err := s.RemoveContainer(ctx, id, 10*time.Second); err != nil {
			errs = append(errs, err)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.mountMu.Lock()
	if err := s.releaseMountsLocked(s.containerMounts[""]); err != nil {
		errs = append(errs, err)
	}
	delete(s.containerMounts, "")
	s.mountMu.Unlock()
	s.stopPidNamespace()
	s.created = false
	s.log.WithField("sandbox", s.id).Info("sandbox destroyed")
	return errors.Join(errs...)
}

// Container returns container id.
func (s *Sandbox) Container(id string) (*container.Container, error) {
	if err := ValidateID("container", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

// Containers returns the number of containers, for metrics.
func (s *Sandbox) Containers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.containers)
}

// CreateContainer mounts the container's storages and creates it.
func (s *Sandbox) CreateContainer(ctx context.Context, req *grpc.CreateContainerRequest) error {
	id := req.ContainerId
	if err := ValidateID("container", id); err != nil {
		return err
	}
	if req.OCI == nil {
		return fmt.Errorf("container %s: request has no OCI spec: %w", id, errdefs.ErrInvalidArgument)
	}

	s.mu.Lock()
	if _, ok := s.containers[id]; ok || s.pending[id] {
		s.mu.Unlock()
		return fmt.Errorf("container %s: %w", id, errdefs.ErrAlreadyExists)
	}
	s.pending[id] = true
	s.mu.Unlock()
	mounted, err := s.mountStorages(ctx, req.Storages)

	created := false
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
		if !created {
			if err := s.releaseMounts(mounted); err != nil {
				s.log.WithError(err).WithField("container", id).Error("failed to unmount the storages of a container that failed to start")
			}
		}
	}()
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}

	spec := ocispec.ToOCI(req.OCI)
	if err := s.applyDevices(ctx, spec, req.Devices); err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	s.mu.Lock()
	s.setPidNamespace(spec, req.SandboxPidns)
	// Host hooks name host binaries that cannot run in the guest; only the
	// guest's own hooks apply.
	spec.Hooks = s.hooks
	s.mu.Unlock()
	c, err := container.Create(ctx, &s.cfg.Runtime, id, spec)
	if err != nil {
		return err
	}

	s.mountMu.Lock()
	s.containerMounts[id] = mounted
	s.mountMu.Unlock()
	s.mu.Lock()
	s.containers[id] = c
	s.mu.Unlock()
	created = true
	return nil
}

// StartContainer starts container id and watches it for OOM kills.
func (s *Sandbox) StartContainer(ctx context.Context, id string) error {
	c, err := s.Container(id)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	go s.watchOOM(c)
	return nil
}

// RemoveContainer removes container id and releases its storages.
func (s *Sandbox) RemoveContainer(ctx context.Context, id string, timeout time.Duration) error {
	c, err := s.Container(id)
	if err != nil {
		return err
	}
	if err := c.Remove(ctx, timeout); err != nil {
		return err
	}

	s.mu.Lock()
	delete(s.containers, id)
	s.mu.Unlock()

	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	mounted := s.containerMounts[id]
	delete(s.containerMounts, id)
	return s.releaseMountsLocked(mounted)
}

// CgroupPaths returns where the proc and cgroup2 file systems are mounted.
func (s *Sandbox) CgroupPaths() cgroupstats.Paths { return s.cfg.Cgroups }
