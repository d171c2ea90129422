package server

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/cgroupstats"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/container"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/process"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/sandbox"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/ocispec"
)

var empty = &emptypb.Empty{}

// CreateContainer creates a container; StartContainer runs its program.
func (s *Service) CreateContainer(ctx context.Context, req *grpc.CreateContainerRequest) (*emptypb.Empty, error) {
	if req.StdinPort != 0 || req.StdoutPort != 0 || req.StderrPort != 0 {
		return nil, fmt.Errorf("container %s: stdio over vsock ports: %w", req.ContainerId, errdefs.ErrUnimplemented)
	}
	// NOTE: shared mounts are not supported yet; the container is created
	// without them.
	if len(req.SharedMounts) > 0 {
		s.log.WithFields(logrus.Fields{
			"container":     req.ContainerId,
			"shared-mounts": len(req.SharedMounts),
		}).Warn("ignoring the shared mounts of the request")
	}
	if err := s.cfg.Sandbox.CreateContainer(ctx, req); err != nil {
		return nil, err
	}
	return empty, nil
}

// StartContainer starts the program of a created container.
func (s *Service) StartContainer(ctx context.Context, req *grpc.StartContainerRequest) (*emptypb.Empty, error) {
	return empty, s.cfg.Sandbox.StartContainer(ctx, req.ContainerId)
}

// RemoveContainer kills and removes a container.
func (s *Service) RemoveContainer(ctx context.Context, req *grpc.RemoveContainerRequest) (*emptypb.Empty, error) {
	timeout := time.Duration(req.Timeout) * time.Second
	return empty, s.cfg.Sandbox.RemoveContainer(ctx, req.ContainerId, timeout)
}

// ExecProcess starts a process in a running container.
func (s *Service) ExecProcess(ctx context.Context, req *grpc.ExecProcessRequest) (*emptypb.Empty, error) {
	if err := sandbox.ValidateID("exec", req.ExecId); err != nil {
		return nil, err
	}
	if req.Process == nil {
		return nil, fmt.Errorf("exec %s of container %s: request has no process: %w", req.ExecId, req.ContainerId, errdefs.ErrInvalidArgument)
	}
	if req.StdinPort != 0 || req.StdoutPort != 0 || req.StderrPort != 0 {
		return nil, fmt.Errorf("exec %s of container %s: stdio over vsock ports: %w", req.ExecId, req.ContainerId, errdefs.ErrUnimplemented)
	}
	c, err := s.cfg.Sandbox.Container(req.ContainerId)
	if err != nil {
		return nil, err
	}
	return empty, c.Exec(ctx, req.ExecId, ocispec.ProcessToOCI(req.Process))
}

// SignalProcess sends a signal to a process of a container.
func (s *Service) SignalProcess(ctx context.Context, req *grpc.SignalProcessRequest) (*emptypb.Empty, error) {
	if req.Signal == 0 || req.Signal > 64 {
		return nil, fmt.Errorf("invalid signal %d for container %s exec %q: %w", req.Signal, req.ContainerId, req.ExecId, errdefs.ErrInvalidArgument)
	}
	c, err := s.containerAndExec(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	return empty, c.Signal(ctx, req.ExecId, unix.Signal(req.Signal))
}

// WaitProcess waits for a process to exit and returns its exit status.
func (s *Service) WaitProcess(ctx context.Context, req *grpc.WaitProcessRequest) (*grpc.WaitProcessResponse, error) {
	c, err := s.containerAndExec(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	status, err := c.Wait(ctx, req.ExecId)
	if err != nil {
		return nil, err
	}
	return &grpc.WaitProcessResponse{Status: int32(status)}, nil
}

// UpdateContainer changes the resource limits of a container.
func (s *Service) UpdateContainer(ctx context.Context, req *grpc.UpdateContainerRequest) (*emptypb.Empty, error) {
	c, err := s.cfg.Sandbox.Container(req.ContainerId)
	if err != nil {
		return nil, err
	}
	spec := ocispec.ToOCI(&grpc.Spec{Linux: &grpc.Linux{Resources: req.Resources}})
	return empty, c.Update(ctx, spec.Linux.Resources)
}

// StatsContainer returns the cgroup statistics of a container.
func (s *Service) StatsContainer(ctx context.Context, req *grpc.StatsContainerRequest) (*grpc.StatsContainerResponse, error) {
	c, err := s.cfg.Sandbox.Container(req.ContainerId)
	if err != nil {
		return nil, err
	}
	if c.Init().HasExited() {
		return nil, fmt.Errorf("container %s has stopped, its cgroup is gone: %w", c.ID, errdefs.ErrFailedPrecondition)
	}
	paths := s.cfg.Sandbox.CgroupPaths()
	dir, err := paths.CgroupDir(c.Init().Pid())
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	stats, err := cgroupstats.Read(dir)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	return &grpc.StatsContainerResponse{CgroupStats: stats}, nil
}

// PauseContainer freezes a container.
func (s *Service) PauseContainer(ctx context.Context, req *grpc.PauseContainerRequest) (*emptypb.Empty, error) {
	c, err := s.cfg.Sandbox.Container(req.ContainerId)
	if err != nil {
		return nil, err
	}
	return empty, c.Pause(ctx)
}

// ResumeContainer thaws a container.
func (s *Service) ResumeContainer(ctx context.Context, req *grpc.ResumeContainerRequest) (*emptypb.Empty, error) {
	c, err := s.cfg.Sandbox.Container(req.ContainerId)
	if err != nil {
		return nil, err
	}
	return empty, c.Resume(ctx)
}

// containerAndExec validates the ids and finds the container; an empty
// exec id names the init process.
func (s *Service) containerAndExec(containerID, execID string) (*container.Container, error) {
	if execID != "" {
		if err := sandbox.ValidateID("exec", execID); err != nil {
			return nil, err
		}
	}
	return s.cfg.Sandbox.Container(containerID)
}

// process finds the process a stream request names.
func (s *Service) process(containerID, execID string) (*process.Process, error) {
	c, err := s.containerAndExec(containerID, execID)
	if err != nil {
		return nil, err
	}
	return c.Process(execID)
}
