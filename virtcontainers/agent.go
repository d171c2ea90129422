package virtcontainers

import (
	"context"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Agent is the sandbox's client of the kata-agent in the guest. The
// production implementation uses the Kata agent protocol over ttrpc
// (kata_agent.go), and tests substitute their own.
//
// Process ids follow the agent protocol: the container's init process has
// an empty exec id.
type Agent interface {
	// Check returns nil once the agent serves requests.
	Check(ctx context.Context) error

	// CreateSandbox prepares the guest for containers: hostname, the shared
	// filesystem mount and the guest kernel modules.
	CreateSandbox(ctx context.Context, req AgentSandbox) error

	// DestroySandbox stops every container and makes the agent exit.
	DestroySandbox(ctx context.Context) error

	CreateContainer(ctx context.Context, containerID string, spec *specs.Spec, storages []AgentStorage) error
	StartContainer(ctx context.Context, containerID string) error
	RemoveContainer(ctx context.Context, containerID string) error

	// ExecProcess starts an additional process in a running container.
	ExecProcess(ctx context.Context, containerID, execID string, process *specs.Process) error

	// WaitProcess blocks until the process exits and returns its exit status,
	// 128+N when a signal N ended it.
	WaitProcess(ctx context.Context, containerID, execID string) (int32, error)
	SignalProcess(ctx context.Context, containerID, execID string, signal syscall.Signal, all bool) error

	// ReadStdout and ReadStderr return io.EOF once the process's stream is
	// closed and drained.
	ReadStdout(ctx context.Context, containerID, execID string, p []byte) (int, error)
	ReadStderr(ctx context.Context, containerID, execID string, p []byte) (int, error)
	WriteStdin(ctx context.Context, containerID, execID string, p []byte) (int, error)
	CloseStdin(ctx context.Context, containerID, execID string) error
	ResizeTTY(ctx context.Context, containerID, execID string, height, width uint32) error

	// UpdateContainer changes the container's cgroup limits in the guest.
	UpdateContainer(ctx context.Context, containerID string, resources *specs.LinuxResources) error

	// StatsContainer returns the container's cgroup statistics.
	StatsContainer(ctx context.Context, containerID string) (*ContainerStats, error)

	// Metrics returns the agent's and the guest's metrics in the Prometheus
	// text format.
	Metrics(ctx context.Context) (string, error)

	// Close releases the connection to the agent.
	Close() error
}

// AgentSandbox is the CreateSandbox request in this package's terms.
type AgentSandbox struct {
	SandboxID     string
	Hostname      string
	Storages      []AgentStorage
	KernelModules []string
}

// AgentStorage is a filesystem the agent mounts in the guest.
type AgentStorage struct {
	Driver     string
	Source     string
	FSType     string
	Options    []string
	MountPoint string
}

// ContainerStats is the subset of the guest's cgroup statistics the shim
// reports to containerd.
type ContainerStats struct {
	CPUUsageNanos       uint64
	CPUUserNanos        uint64
	CPUSystemNanos      uint64
	MemoryUsageBytes    uint64
	MemoryMaxUsageBytes uint64
	MemoryLimitBytes    uint64
	PidsCurrent         uint64
	PidsLimit           uint64
}
