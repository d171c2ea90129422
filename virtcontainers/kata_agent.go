package virtcontainers

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/ocispec"
)

// maxReadChunk bounds one ReadStdout or ReadStderr call, so that one reply
// stays well below ttrpc's message size limit.
const maxReadChunk = 64 << 10

// kataAgent is the Agent over the Kata agent protocol.
type kataAgent struct {
	c *client.Client
}

var _ Agent = (*kataAgent)(nil)

// dialKataAgent connects to the agent at url, retrying until ctx ends.
func dialKataAgent(ctx context.Context, url string) (Agent, error) {
	c, err := client.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	return &kataAgent{c: c}, nil
}

// protocolExecID returns the exec id the protocol uses for a process. The
// init process is addressed by the container id, as upstream's runtime does
// and upstream's agent expects.
func protocolExecID(containerID, execID string) string {
	if execID == "" {
		return containerID
	}
	return execID
}

func (a *kataAgent) Check(ctx context.Context) error {
	resp, err := a.c.Health.Check(ctx, &grpc.CheckRequest{})
	if err != nil {
		return err
	}
	if resp.Status != grpc.HealthCheckResponse_SERVING {
		return fmt.Errorf("agent health: %s", resp.Status)
	}
	return nil
}

func (a *kataAgent) CreateSandbox(ctx context.Context, req AgentSandbox) error {
	modules := make([]*grpc.KernelModule, 0, len(req.KernelModules))
	for _, m := range req.KernelModules {
		fields := strings.Fields(m)
		if len(fields) == 0 {
			continue
		}
		modules = append(modules, &grpc.KernelModule{Name: fields[0], Parameters: fields[1:]})
	}
	_, err := a.c.AgentService.CreateSandbox(ctx, &grpc.CreateSandboxRequest{
		Hostname:      req.Hostname,
		Storages:      protocolStorages(req.Storages),
		SandboxId:     req.SandboxID,
		KernelModules: modules,
	})
	return err
}

func protocolStorages(in []AgentStorage) []*grpc.Storage {
	out := make([]*grpc.Storage, 0, len(in))
	for _, s := range in {
		out = append(out, &grpc.Storage{
			Driver:     s.Driver,
			Source:     s.Source,
			Fstype:     s.FSType,
			Options:    s.Options,
			MountPoint: s.MountPoint,
		})
	}
	return out
}

func (a *kataAgent) DestroySandbox(ctx context.Context) error {
	_, err := a.c.AgentService.DestroySandbox(ctx, &grpc.DestroySandboxRequest{})
	return err
}

func (a *kataAgent) CreateContainer(ctx context.Context, containerID string, spec *specs.Spec, storages []AgentStorage) error {
	_, err := a.c.AgentService.CreateContainer(ctx, &grpc.CreateContainerRequest{
		ContainerId: containerID,
		ExecId:      containerID,
		Storages:    protocolStorages(storages),
		OCI:         ocispec.FromOCI(spec),
	})
	return err
}

func (a *kataAgent) StartContainer(ctx context.Context, containerID string) error {
	_, err := a.c.AgentService.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: containerID})
	return err
}

func (a *kataAgent) RemoveContainer(ctx context.Context, containerID string) error {
	_, err := a.c.AgentService.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: containerID})
	return err
}

func (a *kataAgent) ExecProcess(ctx context.Context, containerID, execID string, process *specs.Process) error {
	_, err := a.c.AgentService.ExecProcess(ctx, &grpc.ExecProcessRequest{
		ContainerId: containerID,
		ExecId:      execID,
		Process:     ocispec.ProcessFromOCI(process),
	})
	return err
}

func (a *kataAgent) WaitProcess(ctx context.Context, containerID, execID string) (int32, error) {
	resp, err := a.c.AgentService.WaitProcess(ctx, &grpc.WaitProcessRequest{
		ContainerId: containerID,
		ExecId:      protocolExecID(containerID, execID),
	})
	if err != nil {
		return 0, err
	}
	return resp.Status, nil
}

// SignalProcess signals one process.
//
// NOTE: the protocol has no "all processes" flag; with all set, only the
// addressed process is signalled, as with upstream's runtime.
func (a *kataAgent) SignalProcess(ctx context.Context, containerID, execID string, signal syscall.Signal, all bool) error {
	_, err := a.c.AgentService.SignalProcess(ctx, &grpc.SignalProcessRequest{
		ContainerId: containerID,
		ExecId:      protocolExecID(containerID, execID),
		Signal:      uint32(signal),
	})
	return err
}

func (a *kataAgent) ReadStdout(ctx context.Context, containerID, execID string, p []byte) (int, error) {
	return a.read(ctx, a.c.AgentService.ReadStdout, containerID, execID, p)
}

func (a *kataAgent) ReadStderr(ctx context.Context, containerID, execID string, p []byte) (int, error) {
	return a.read(ctx, a.c.AgentService.ReadStderr, containerID, execID, p)
}

type readCall func(context.Context, *grpc.ReadStreamRequest) (*grpc.ReadStreamResponse, error)

func (a *kataAgent) read(ctx context.Context, call readCall, containerID, execID string, p []byte) (int, error) {
	n := min(len(p), maxReadChunk)
	resp, err := call(ctx, &grpc.ReadStreamRequest{
		ContainerId: containerID,
		ExecId:      protocolExecID(containerID, execID),
		Len:         uint32(n),
	})
	if err != nil {
		if client.IsEOF(err) {
			return 0, io.EOF
		}
		return 0, err
	}
	if len(resp.Data) == 0 {
		return 0, io.EOF
	}
	return copy(p, resp.Data), nil
}

func (a *kataAgent) WriteStdin(ctx context.Context, containerID, execID string, p []byte) (int, error) {
	resp, err := a.c.AgentService.WriteStdin(ctx, &grpc.WriteStreamRequest{
		ContainerId: containerID,
		ExecId:      protocolExecID(containerID, execID),
		Data:        p,
	})
	if err != nil {
		return 0, err
	}
	return int(resp.Len), nil
}

func (a *kataAgent) CloseStdin(ctx context.Context, containerID, execID string) error {
	_, err := a.c.AgentService.CloseStdin(ctx, &grpc.CloseStdinRequest{
		ContainerId: containerID,
		ExecId:      protocolExecID(containerID, execID),
	})
	return err
}

func (a *kataAgent) ResizeTTY(ctx context.Context, containerID, execID string, height, width uint32) error {
	_, err := a.c.AgentService.TtyWinResize(ctx, &grpc.TtyWinResizeRequest{
		ContainerId: containerID,
		ExecId:      protocolExecID(containerID, execID),
		Row:         height,
		Column:      width,
	})
	return err
}

func (a *kataAgent) UpdateContainer(ctx context.Context, containerID string, resources *specs.LinuxResources) error {
	_, err := a.c.AgentService.UpdateContainer(ctx, &grpc.UpdateContainerRequest{
		ContainerId: containerID,
		Resources:   resourcesToProtocol(resources),
	})
	return err
}

func (a *kataAgent) StatsContainer(ctx context.Context, containerID string) (*ContainerStats, error) {
	resp, err := a.c.AgentService.StatsContainer(ctx, &grpc.StatsContainerRequest{ContainerId: containerID})
	if err != nil {
		return nil, err
	}

	var st ContainerStats
	cg := resp.GetCgroupStats()
	if cpu := cg.GetCpuStats().GetCpuUsage(); cpu != nil {
		st.CPUUsageNanos = cpu.TotalUsage
		st.CPUUserNanos = cpu.UsageInUsermode
		st.CPUSystemNanos = cpu.UsageInKernelmode
	}
	if mem := cg.GetMemoryStats().GetUsage(); mem != nil {
		st.MemoryUsageBytes = mem.Usage
		st.MemoryMaxUsageBytes = mem.MaxUsage
		st.MemoryLimitBytes = mem.Limit
	}
	if pids := cg.GetPidsStats(); pids != nil {
		st.PidsCurrent, st.PidsLimit = pids.Current, pids.Limit
	}
	return &st, nil
}

func (a *kataAgent) Metrics(ctx context.Context) (string, error) {
	resp, err := a.c.AgentService.GetMetrics(ctx, &grpc.GetMetricsRequest{})
	if err != nil {
		return "", err
	}
	return resp.Metrics, nil
}

func (a *kataAgent) Close() error {
	return a.c.Close()
}

// resourcesToProtocol converts cgroup limits to the protocol's message,
// through the protocol package's spec conversion.
func resourcesToProtocol(r *specs.LinuxResources) *grpc.LinuxResources {
	if r == nil {
		return nil
	}
	return ocispec.FromOCI(&specs.Spec{Linux: &specs.Linux{Resources: r}}).Linux.Resources
}
