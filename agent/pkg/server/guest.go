package server

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/guest"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/storage"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// destroyGrace lets the reply to DestroySandbox reach the host before
// OnDestroy powers the guest off.
const destroyGrace = 100 * time.Millisecond

// CreateSandbox applies the sandbox's settings and mounts its storages.
func (s *Service) CreateSandbox(ctx context.Context, req *grpc.CreateSandboxRequest) (*emptypb.Empty, error) {
	return empty, s.cfg.Sandbox.Create(ctx, req)
}

// DestroySandbox removes every container and storage; the agent then
// powers the guest off when it is PID 1.
func (s *Service) DestroySandbox(ctx context.Context, req *grpc.DestroySandboxRequest) (*emptypb.Empty, error) {
	err := s.cfg.Sandbox.Destroy(ctx)
	if s.cfg.OnDestroy != nil {
		time.AfterFunc(destroyGrace, s.cfg.OnDestroy)
	}
	return empty, err
}

// GetGuestDetails describes the agent and the guest's memory hotplug.
func (s *Service) GetGuestDetails(ctx context.Context, req *grpc.GuestDetailsRequest) (*grpc.GuestDetailsResponse, error) {
	resp := &grpc.GuestDetailsResponse{
		AgentDetails: &grpc.AgentDetails{
			Version:         s.cfg.Version,
			InitDaemon:      s.cfg.InitDaemon,
			StorageHandlers: storage.Drivers,
		},
	}
	if req.MemBlockSize {
		size, err := s.cfg.Sysfs.MemBlockSize()
		if err != nil {
			return nil, err
		}
		resp.MemBlockSizeBytes = size
	}
	if req.MemHotplugProbe {
		resp.SupportMemHotplugProbe = s.cfg.Sysfs.MemHotplugProbe()
	}
	return resp, nil
}

// OnlineCPUMem brings hot-plugged CPUs and memory online; without wait it
// returns at once and finishes in the background.
func (s *Service) OnlineCPUMem(ctx context.Context, req *grpc.OnlineCPUMemRequest) (*emptypb.Empty, error) {
	work := func(ctx context.Context) error {
		if req.NbCpus > 0 {
			if _, err := s.cfg.Sysfs.OnlineCPUs(ctx, int(req.NbCpus), true); err != nil {
				return err
			}
		}
		if !req.CpuOnly {
			return s.cfg.Sysfs.OnlineMemory()
		}
		return nil
	}
	if req.Wait {
		return empty, work(ctx)
	}

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := work(ctx); err != nil {
			s.log.WithError(err).WithField("cpus", req.NbCpus).Error("failed to online CPUs or memory in the background")
		}
	}()
	return empty, nil
}

// MemHotplugByProbe announces hot-added memory to the kernel.
func (s *Service) MemHotplugByProbe(ctx context.Context, req *grpc.MemHotplugByProbeRequest) (*emptypb.Empty, error) {
	return empty, s.cfg.Sysfs.ProbeMemory(req.MemHotplugProbeAddr)
}

// SetGuestDateTime sets the guest clock.
func (s *Service) SetGuestDateTime(ctx context.Context, req *grpc.SetGuestDateTimeRequest) (*emptypb.Empty, error) {
	return empty, guest.SetTime(req.Sec, req.Usec)
}

// GetOOMEvent waits for the next OOM kill in a container; the runtime calls
// it in a loop.
func (s *Service) GetOOMEvent(ctx context.Context, req *grpc.GetOOMEventRequest) (*grpc.OOMEvent, error) {
	id, err := s.cfg.Sandbox.WaitOOMEvent(ctx)
	if err != nil {
		return nil, err
	}
	return &grpc.OOMEvent{ContainerId: id}, nil
}

// SetPolicy is not supported: this agent enforces no policy.
func (s *Service) SetPolicy(ctx context.Context, req *grpc.SetPolicyRequest) (*emptypb.Empty, error) {
	return nil, fmt.Errorf("SetPolicy: the agent has no policy engine: %w", errdefs.ErrUnimplemented)
}

// GetMetrics returns the agent's metrics in the Prometheus text format.
func (s *Service) GetMetrics(ctx context.Context, req *grpc.GetMetricsRequest) (*grpc.Metrics, error) {
	if s.cfg.Metrics == nil {
		return nil, unimplemented("GetMetrics")
	}
	text, err := s.cfg.Metrics.Text()
	if err != nil {
		return nil, err
	}
	return &grpc.Metrics{Metrics: text}, nil
}
