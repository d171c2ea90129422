package containerdshim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/mount"
	"github.com/containerd/containerd/protobuf"
	"github.com/containerd/containerd/runtime/v2/shim"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// StartShim starts the long-running shim process for a new sandbox, or,
// for a pod container that joins an existing sandbox, returns the address
// of that sandbox's shim. It runs in the bundle directory.
func (s *service) StartShim(ctx context.Context, opts shim.StartOpts) (_ string, retErr error) {
	spec, err := readBundleSpec(".")
	if err != nil {
		return "", err
	}

	grouping := s.id
	if spec.Annotations[annotationContainerType] == containerTypeContainer {
		sandboxID := spec.Annotations[annotationSandboxID]
		if sandboxID == "" {
			return "", fmt.Errorf("container %s is a pod container without the %s annotation", s.id, annotationSandboxID)
		}
		grouping = sandboxID
	}

	address, err := shim.SocketAddress(ctx, opts.Address, grouping)
	if err != nil {
		return "", err
	}
	if grouping != s.id {
		// The sandbox's shim serves this container too.
		if err := shim.WriteAddress("address", address); err != nil {
			return "", err
		}
		return address, nil
	}

	socket, err := shim.NewSocket(address)
	if err != nil {
		if !shim.SocketEaddrinuse(err) {
			return "", fmt.Errorf("creating shim socket %s: %w", address, err)
		}
		if shim.CanConnect(address) {
			return "", fmt.Errorf("a shim for sandbox %s already serves %s", s.id, address)
		}
		// A shim that crashed left its socket behind.
		if err := shim.RemoveSocket(address); err != nil {
			return "", fmt.Errorf("removing stale shim socket %s: %w", address, err)
		}
		if socket, err = shim.NewSocket(address); err != nil {
			return "", fmt.Errorf("creating shim socket %s: %w", address, err)
		}
	}
	defer func() {
		if retErr != nil {
			socket.Close()
			_ = shim.RemoveSocket(address)
		}
	}()

	if err := shim.WriteAddress("address", address); err != nil {
		return "", err
	}

	cmd, err := serveCommand(ctx, &shim.CommandConfig{
		Runtime:      os.Args[0],
		Address:      opts.Address,
		TTRPCAddress: opts.TTRPCAddress,
		Path:         ".",
		Args:         shimArgs(s.id, opts.Debug),
	})
	if err != nil {
		return "", err
	}
	f, err := socket.File()
	if err != nil {
		return "", err
	}
	defer f.Close()
	cmd.ExtraFiles = append(cmd.ExtraFiles, f)

	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting shim process: %w", err)
	}
	go func() { _ = cmd.Wait() }()

	if err := shim.AdjustOOMScore(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("adjusting the OOM score of shim process %d: %w", cmd.Process.Pid, err)
	}
	return address, nil
}

// serveCommand returns the command of the serving shim. shim.Command makes
// it with exec.CommandContext, and the shim library cancels the start
// action's context as the start process returns, so Go's exec would kill
// the new shim with SIGKILL if it got to run before the start process
// exited. In the slow emulated host that happened in a few of a hundred
// starts: containerd then found the shim's socket refusing connections.
// The serving shim must outlive the start process, so its command gets a
// context that is never cancelled.
func serveCommand(ctx context.Context, config *shim.CommandConfig) (*exec.Cmd, error) {
	return shim.Command(context.WithoutCancel(ctx), config)
}

func shimArgs(id string, debug bool) []string {
	args := []string{"-id", id}
	if debug {
		args = append(args, "-debug")
	}
	return args
}

// Cleanup runs as `containerd-shim-kata-v2 delete` in the bundle directory
// when the shim is gone: it stops the sandbox's VM and removes its host
// files if this container started the sandbox, then unmounts the bundle's
// rootfs. Its logs go to stderr, as stdout carries the response.
func (s *service) Cleanup(ctx context.Context) (*taskAPI.DeleteResponse, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	s.log.WithField("bundle", cwd).Warn("cleaning up after the shim")

	var errs []error
	spec, err := readBundleSpec(cwd)
	if err != nil {
		errs = append(errs, err)
	} else if spec.Annotations[annotationContainerType] != containerTypeContainer {
		if err := vc.CleanupSandbox(s.paths, s.id); err != nil {
			errs = append(errs, err)
		}
		if err := removeDeadShimSocket(filepath.Join(cwd, "address")); err != nil {
			errs = append(errs, err)
		}
	}

	if err := mount.UnmountAll(filepath.Join(cwd, "rootfs"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("unmounting %s: %w", filepath.Join(cwd, "rootfs"), err))
	}

	return &taskAPI.DeleteResponse{
		ExitedAt:   protobuf.ToTimestamp(time.Now()),
		ExitStatus: 128 + uint32(syscall.SIGKILL),
	}, errors.Join(errs...)
}

// removeDeadShimSocket removes the socket named in the bundle's address file
// when no shim listens on it any more. A shim killed by a signal leaves its
// socket in /run/containerd/s, and containerd (1.7.24 as tested) leaves it
// there after it runs `containerd-shim-kata-v2 delete`.
func removeDeadShimSocket(addressFile string) error {
	address, err := shim.ReadAddress(addressFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the shim address from %s: %w", addressFile, err)
	}
	if shim.CanConnect(address) {
		return nil
	}
	if err := shim.RemoveSocket(address); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the socket %s of the dead shim: %w", address, err)
	}
	return nil
}
