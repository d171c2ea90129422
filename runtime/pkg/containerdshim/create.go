package containerdshim

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/mount"
	runtimeoptions "github.com/containerd/containerd/pkg/runtimeoptions/v1"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// CRI annotations that group a pod's containers into one sandbox.
const (
	annotationContainerType = "io.kubernetes.cri.container-type"
	annotationSandboxID     = "io.kubernetes.cri.sandbox-id"
	containerTypeSandbox    = "sandbox"
	containerTypeContainer  = "container"
)

// Create creates a task: for the pod's sandbox container (or a plain `ctr
// run` container) it starts the sandbox's VM; a pod's other containers join
// that sandbox.
func (s *service) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (_ *taskAPI.CreateTaskResponse, retErr error) {
	log := s.log.WithField("container", r.ID)
	log.WithField("bundle", r.Bundle).Info("create task")
	defer func() {
		if retErr != nil {
			log.WithError(retErr).Error("create task failed")
		}
	}()

	spec, err := readBundleSpec(r.Bundle)
	if err != nil {
		return nil, toTTRPC(err)
	}

	ctx, done := s.beginCreate(ctx, r.ID)
	defer done()

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, dup := s.containers[r.ID]; dup {
		return nil, toTTRPC(fmt.Errorf("task %s: %w", r.ID, vc.ErrContainerExists))
	}

	joins := spec.Annotations[annotationContainerType] == containerTypeContainer
	if joins && s.sandbox == nil {
		return nil, toTTRPC(failedPrecondition("container %s names sandbox %s, which this shim does not run", r.ID, spec.Annotations[annotationSandboxID]))
	}
	if !joins && s.sandbox != nil {
		return nil, toTTRPC(failedPrecondition("container %s: sandbox %s already runs in this shim", r.ID, s.sandbox.ID()))
	}

	if s.sandbox == nil {
		if err := s.startSandbox(ctx, r, spec); err != nil {
			return nil, toTTRPC(err)
		}
	}

	rootfs := make([]mount.Mount, 0, len(r.Rootfs))
	for _, m := range r.Rootfs {
		rootfs = append(rootfs, mount.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: m.Options})
	}
	vcc, err := s.sandbox.CreateContainer(ctx, vc.ContainerConfig{ID: r.ID, Spec: spec, BundlePath: r.Bundle, Rootfs: rootfs})
	if err != nil {
		if !joins {
			s.stopSandbox(ctx)
		}
		return nil, toTTRPC(err)
	}

	c := &container{
		id:        r.ID,
		bundle:    r.Bundle,
		spec:      spec,
		vc:        vcc,
		execs:     map[string]*process{},
		isSandbox: !joins,
		init:      newProcess(r.ID, "", stdio{stdin: r.Stdin, stdout: r.Stdout, stderr: r.Stderr, terminal: r.Terminal}),
	}
	s.containers[r.ID] = c

	pid := s.vmmPID()
	s.events.send(&eventstypes.TaskCreate{
		ContainerID: r.ID,
		Bundle:      r.Bundle,
		Rootfs:      r.Rootfs,
		IO:          &eventstypes.TaskIO{Stdin: r.Stdin, Stdout: r.Stdout, Stderr: r.Stderr, Terminal: r.Terminal},
		Pid:         pid,
	})
	return &taskAPI.CreateTaskResponse{Pid: pid}, nil
}

// beginCreate returns a context for the Create of task id that
// cancelCreates can cancel, and a function that ends the Create's tracking.
func (s *service) beginCreate(ctx context.Context, id string) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	s.creatingMu.Lock()
	s.creating[id] = cancel
	s.creatingMu.Unlock()

	return ctx, func() {
		s.creatingMu.Lock()
		delete(s.creating, id)
		s.creatingMu.Unlock()
		cancel()
	}
}

// cancelCreates cancels the running Create of task id, or of every task when
// id is empty. containerd deletes a task whose Create its client abandoned
// (ctr killed during the VM boot), and without this the Delete would wait
// for the whole boot or dial_timeout.
func (s *service) cancelCreates(id string) {
	s.creatingMu.Lock()
	defer s.creatingMu.Unlock()
	for task, cancel := range s.creating {
		if id == "" || id == task {
			s.log.WithField("container", task).Warn("cancelling the task's creation, which is still in progress")
			cancel()
		}
	}
}

// startSandbox loads the configuration, applies the allowed annotations and
// starts the sandbox's VM. The caller holds s.mu.
func (s *service) startSandbox(ctx context.Context, r *taskAPI.CreateTaskRequest, spec *specs.Spec) error {
	configPath, err := configPathFromOptions(r)
	if err != nil {
		return err
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		return fmt.Errorf("loading the Kata configuration: %w", err)
	}
	if err := applyAnnotations(cfg, spec.Annotations); err != nil {
		return err
	}
	s.cfg = cfg
	s.log.WithField("config", cfg.Path).Info("starting sandbox")

	start := time.Now()
	sb, err := vc.CreateSandbox(ctx, vc.SandboxConfig{
		ID:                  r.ID,
		Hostname:            spec.Hostname,
		HypervisorType:      cfg.HypervisorType,
		Hypervisor:          cfg.Hypervisor,
		Agent:               cfg.Agent,
		Paths:               s.paths,
		DisableGuestSeccomp: cfg.Runtime.DisableGuestSeccomp,
	})
	if err != nil {
		return err
	}
	s.sandbox = sb
	s.log.WithField("elapsed", time.Since(start).Round(time.Millisecond)).Info("sandbox started")

	s.startMonitor()
	return nil
}

// stopSandbox deletes the sandbox after a failure or its last container.
// The caller holds s.mu.
func (s *service) stopSandbox(ctx context.Context) {
	if s.sandbox == nil {
		return
	}
	s.stopMonitor()
	if err := s.sandbox.Delete(context.WithoutCancel(ctx)); err != nil {
		s.log.WithError(err).Error("deleting sandbox")
	}
	s.sandbox = nil
}

// configPathFromOptions returns the ConfigPath runtime option, which
// containerd's CRI plugin and `ctr --runtime-config-path` pass, or "" for
// the usual lookup.
func configPathFromOptions(r *taskAPI.CreateTaskRequest) (string, error) {
	if r.Options == nil || r.Options.GetValue() == nil {
		return "", nil
	}
	v, err := typeurl.UnmarshalAny(r.Options)
	if err != nil {
		logrus.WithError(err).WithField("type", r.Options.GetTypeUrl()).Warn("ignoring runtime options of unknown type")
		return "", nil
	}
	if o, ok := v.(*runtimeoptions.Options); ok {
		return o.ConfigPath, nil
	}
	return "", nil
}

// readBundleSpec reads the OCI spec containerd wrote into the bundle.
func readBundleSpec(bundle string) (*specs.Spec, error) {
	path := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, invalidArgument("reading OCI spec %s: %v", path, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, invalidArgument("decoding OCI spec %s: %v", path, err)
	}
	if spec.Process == nil {
		return nil, invalidArgument("OCI spec %s has no process", path)
	}
	return &spec, nil
}
