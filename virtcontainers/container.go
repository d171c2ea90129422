package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containerd/containerd/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
)

// ContainerConfig describes a container to create in a sandbox.
type ContainerConfig struct {
	ID string
	// Spec is the host's OCI spec, as containerd wrote it to the bundle.
	Spec *specs.Spec
	// BundlePath is the OCI bundle directory on the host.
	BundlePath string
	// Rootfs are containerd's mounts for the root filesystem. When empty,
	// Spec.Root.Path names an existing directory (ctr run --rootfs).
	Rootfs []mount.Mount
}

// Container is a container inside a sandbox's guest.
type Container struct {
	id      string
	sandbox *Sandbox
	log     *logrus.Entry
	// mounts are the host mount points made for this container, in order.
	mounts []string
	// dirs are host directories made for this container, in order.
	dirs []string
	// blockDevice is the BlockDevice.ID of the rootfs attached with
	// HotplugBlock, "" when none is attached.
	blockDevice string
	// rootfsImage is the ext4 image built from the rootfs directory, ""
	// when there is none.
	rootfsImage string
}

// CreateContainer gives the guest the container's root filesystem, through
// the shared filesystem or, on a sandbox without one, as a block device
// (container_block.go). It then translates the spec for the guest and sends
// the agent CreateContainer. On error it detaches, unmounts and removes what
// it set up, and logs each step that fails.
func (s *Sandbox) CreateContainer(ctx context.Context, cc ContainerConfig) (c *Container, err error) {
	if !validID.MatchString(cc.ID) {
		return nil, fmt.Errorf("container id %q: %w: use letters, digits, '_', '.' and '-'", cc.ID, ErrInvalidID)
	}
	if cc.Spec == nil || cc.Spec.Process == nil {
		return nil, fmt.Errorf("container %s: the OCI spec has no process to run", cc.ID)
	}

	s.mu.Lock()
	if _, dup := s.containers[cc.ID]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("container %s in sandbox %s: %w", cc.ID, s.cfg.ID, ErrContainerExists)
	}
	c = &Container{
		id:      cc.ID,
		sandbox: s,
		log:     s.log.WithField("container", cc.ID),
	}
	s.containers[cc.ID] = c
	s.mu.Unlock()

	defer func() {
		if err != nil {
			cleanupCtx := context.WithoutCancel(ctx)
			if derr := c.detachRootfs(cleanupCtx); derr != nil {
				c.log.WithError(derr).Warn("detaching the rootfs after a failed create")
			}
			if rerr := c.removeHostState(); rerr != nil {
				c.log.WithError(rerr).Warn("removing the rootfs image after a failed create")
			}
			s.mu.Lock()
			delete(s.containers, cc.ID)
			s.mu.Unlock()
		}
	}()

	var guestSpec *specs.Spec
	var storages []AgentStorage
	if s.hasSharedFS {
		hostRoot, err := c.mountRootfs(cc)
		if err != nil {
			return c, err
		}
		guestRoot, err := c.share(hostRoot, "rootfs", false)
		if err != nil {
			return c, err
		}
		if guestSpec, err = c.guestSpec(cc, guestRoot); err != nil {
			return c, err
		}
	} else {
		// The spec comes first: a mount it cannot serve fails the create
		// before the rootfs is copied or attached.
		if guestSpec, err = c.guestSpec(cc, guestRootfsPath(c.id)); err != nil {
			return c, err
		}
		st, err := c.attachRootfs(ctx, cc)
		if err != nil {
			return c, err
		}
		storages = append(storages, st)
	}

	c.log.Info("creating container")
	if err := s.agent.CreateContainer(ctx, cc.ID, guestSpec, storages); err != nil {
		return c, fmt.Errorf("agent CreateContainer for container %s: %w", cc.ID, err)
	}
	return c, nil
}

// mountRootfs mounts containerd's rootfs mounts at <bundle>/rootfs when
// there are any, and returns the host directory of the root filesystem.
func (c *Container) mountRootfs(cc ContainerConfig) (string, error) {
	if len(cc.Rootfs) > 0 {
		target := filepath.Join(cc.BundlePath, "rootfs")
		if err := os.MkdirAll(target, 0o711); err != nil {
			return "", fmt.Errorf("creating rootfs mount point %s: %w", target, err)
		}
		if err := mount.All(cc.Rootfs, target); err != nil {
			return "", fmt.Errorf("mounting rootfs of container %s at %s: %w", cc.ID, target, err)
		}
		c.mounts = append(c.mounts, target)
		return target, nil
	}

	if cc.Spec.Root == nil || cc.Spec.Root.Path == "" {
		return "", fmt.Errorf("container %s: %w: no rootfs mounts and no root.path in the OCI spec", cc.ID, ErrRootfsNotFound)
	}
	root := cc.Spec.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(cc.BundlePath, root)
	}
	info, err := os.Stat(root)
	if err != nil || !info.IsDir() {
		return "", fmt.Errorf("container %s: %w: %s is not a directory", cc.ID, ErrRootfsNotFound, root)
	}
	return root, nil
}

// shareDir returns the container's directory inside the shared directory.
func (c *Container) shareDir() string {
	return filepath.Join(c.sandbox.cfg.Paths.SharedDir(c.sandbox.cfg.ID), c.id)
}

// share bind-mounts hostPath into the container's shared directory under
// name and returns its path in the guest.
func (c *Container) share(hostPath, name string, readOnly bool) (string, error) {
	dir := c.shareDir()
	if len(c.dirs) == 0 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("creating %s: %w", dir, err)
		}
		c.dirs = append(c.dirs, dir)
	}

	target := filepath.Join(dir, name)
	if err := bindMount(hostPath, target, readOnly); err != nil {
		return "", err
	}
	c.mounts = append(c.mounts, target)
	return filepath.Join(guestSharedDir, c.id, name), nil
}

// removeHostState removes the container's rootfs image, then unmounts and
// removes what it set up on the host, newest first. Mount errors are logged
// and the image's removal error is returned.
func (c *Container) removeHostState() error {
	var err error
	if c.rootfsImage != "" {
		if rerr := removeIfExists(c.rootfsImage); rerr != nil {
			err = fmt.Errorf("removing rootfs image of container %s: %w", c.id, rerr)
		} else {
			c.log.WithField("image", c.rootfsImage).Info("rootfs image removed")
		}
		c.rootfsImage = ""
	}
	for _, uerr := range undoHostState(SandboxState{Mounts: c.mounts, Dirs: c.dirs}) {
		c.log.WithError(uerr).Warn("cleaning up container host state")
	}
	c.mounts, c.dirs = nil, nil
	return err
}

// ID returns the container id.
func (c *Container) ID() string { return c.id }

// Start starts the container's init process.
func (c *Container) Start(ctx context.Context) error {
	c.log.Info("starting container")
	if err := c.sandbox.agent.StartContainer(ctx, c.id); err != nil {
		return fmt.Errorf("agent StartContainer for container %s: %w", c.id, err)
	}
	return nil
}

// Exec starts an additional process in the container.
func (c *Container) Exec(ctx context.Context, execID string, process *specs.Process) error {
	if !validID.MatchString(execID) {
		return fmt.Errorf("exec id %q: %w", execID, ErrInvalidID)
	}
	c.log.WithField("exec", execID).Info("starting exec process")
	if err := c.sandbox.agent.ExecProcess(ctx, c.id, execID, process); err != nil {
		return fmt.Errorf("agent ExecProcess %s in container %s: %w", execID, c.id, err)
	}
	return nil
}

// Signal sends sig to the container's process execID (the init process
// when execID is empty), or to all its processes with all.
func (c *Container) Signal(ctx context.Context, execID string, sig syscall.Signal, all bool) error {
	c.log.WithFields(logrus.Fields{"exec": execID, "signal": sig}).Debug("signalling process")
	return c.sandbox.agent.SignalProcess(ctx, c.id, execID, sig, all)
}

// Wait blocks until process execID exits and returns its exit status.
func (c *Container) Wait(ctx context.Context, execID string) (int32, error) {
	return c.sandbox.agent.WaitProcess(ctx, c.id, execID)
}

// Streams returns the I/O streams of process execID.
func (c *Container) Streams(execID string) ProcessStreams {
	return newProcessStreams(c.sandbox.agent, c.id, execID)
}

// Stats returns the container's cgroup statistics from the guest.
func (c *Container) Stats(ctx context.Context) (*ContainerStats, error) {
	return c.sandbox.agent.StatsContainer(ctx, c.id)
}

// Delete removes the container from the guest, detaches its rootfs block
// device and removes its host mounts and rootfs image. Every step runs even
// when an earlier one fails. The sandbox remains; the caller deletes it after
// its last container.
func (c *Container) Delete(ctx context.Context) error {
	c.log.Info("deleting container")
	var errs []error
	if err := c.sandbox.agent.RemoveContainer(ctx, c.id); err != nil {
		c.log.WithError(err).Warn("agent RemoveContainer failed; removing host state anyway")
		errs = append(errs, fmt.Errorf("agent RemoveContainer for container %s: %w", c.id, err))
	}
	if err := c.detachRootfs(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := c.removeHostState(); err != nil {
		errs = append(errs, err)
	}

	s := c.sandbox
	s.mu.Lock()
	delete(s.containers, c.id)
	s.mu.Unlock()
	return errors.Join(errs...)
}
