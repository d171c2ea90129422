package containerdshim

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/cgroups/v3/cgroup2/stats"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/protobuf"
	"github.com/containerd/typeurl/v2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Stats returns the container's cgroup v2 statistics from the guest, in the
// type `ctr task metrics` and the CRI plugin decode for cgroup v2 hosts.
func (s *service) Stats(ctx context.Context, r *taskAPI.StatsRequest) (*taskAPI.StatsResponse, error) {
	s.mu.Lock()
	c, err := s.getContainer(r.ID)
	s.mu.Unlock()
	if err != nil {
		return nil, toTTRPC(err)
	}

	st, err := c.vc.Stats(ctx)
	if err != nil {
		return nil, toTTRPC(err)
	}

	metrics := &stats.Metrics{
		CPU: &stats.CPUStat{
			UsageUsec:  st.CPUUsageNanos / 1000,
			UserUsec:   st.CPUUserNanos / 1000,
			SystemUsec: st.CPUSystemNanos / 1000,
		},
		Memory: &stats.MemoryStat{
			Usage:      st.MemoryUsageBytes,
			UsageLimit: st.MemoryLimitBytes,
			MaxUsage:   st.MemoryMaxUsageBytes,
		},
		Pids: &stats.PidsStat{Current: st.PidsCurrent, Limit: st.PidsLimit},
	}
	data, err := typeurl.MarshalAny(metrics)
	if err != nil {
		return nil, toTTRPC(fmt.Errorf("encoding statistics of container %s: %w", r.ID, err))
	}
	return &taskAPI.StatsResponse{Stats: protobuf.FromAny(data)}, nil
}

// Update changes a container's resource limits inside the guest. The VM
// itself keeps its size: riscv64 sandboxes use static resources.
func (s *service) Update(ctx context.Context, r *taskAPI.UpdateTaskRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	_, err := s.getContainer(r.ID)
	s.mu.Unlock()
	if err != nil {
		return nil, toTTRPC(err)
	}
	if r.Resources == nil {
		return nil, toTTRPC(invalidArgument("update of container %s: no resources given", r.ID))
	}

	var resources specs.LinuxResources
	if err := json.Unmarshal(r.Resources.GetValue(), &resources); err != nil {
		return nil, toTTRPC(invalidArgument("update of container %s: decoding resources: %v", r.ID, err))
	}
	if err := s.sandbox.Agent().UpdateContainer(ctx, r.ID, &resources); err != nil {
		return nil, toTTRPC(err)
	}
	return &emptypb.Empty{}, nil
}
