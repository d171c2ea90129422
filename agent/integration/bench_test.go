//go:build integration

package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// startSandboxContainer creates and starts a container running sleep.
func startSandboxContainer(tb testing.TB, a *agentProcess, id string) {
	tb.Helper()
	ctx := context.Background()
	spec := containerSpec(a.rootfs, false, "sleep", "100000")
	if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: id, OCI: spec}); err != nil {
		tb.Fatalf("CreateContainer: %v", err)
	}
	if _, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: id}); err != nil {
		tb.Fatalf("StartContainer: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = a.agent.RemoveContainer(context.Background(), &grpc.RemoveContainerRequest{ContainerId: id, Timeout: 10})
	})
}

// BenchmarkCheck measures one Health.Check round trip over the Unix socket.
func BenchmarkCheck(b *testing.B) {
	a := startAgent(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := a.client.Health.Check(ctx, &grpc.CheckRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecWait measures ExecProcess of `true`, reading its output to
// EOF as the runtime does, and WaitProcess, in a running container.
func BenchmarkExecWait(b *testing.B) {
	a := startAgent(b)
	startSandboxContainer(b, a, "bench")
	ctx := context.Background()
	process := containerSpec(a.rootfs, false, "true").Process

	i := 0
	for b.Loop() {
		execID := fmt.Sprintf("e%d", i)
		i++
		if _, err := a.agent.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "bench", ExecId: execID, Process: process}); err != nil {
			b.Fatal(err)
		}
		if _, err := readAll(ctx, a.agent.ReadStdout, "bench", execID); err != nil {
			b.Fatal(err)
		}
		if _, err := readAll(ctx, a.agent.ReadStderr, "bench", execID); err != nil {
			b.Fatal(err)
		}
		resp, err := a.agent.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "bench", ExecId: execID})
		if err != nil || resp.Status != 0 {
			b.Fatalf("WaitProcess = %v, %v", resp, err)
		}
	}
}

// BenchmarkAgentRSS reports the agent's resident set size (VmRSS) when idle
// after a Check, and with one running container. The loop body is a Check,
// so ns/op is its round trip; the RSS figures are the metrics.
func BenchmarkAgentRSS(b *testing.B) {
	a := startAgent(b)
	ctx := context.Background()
	if _, err := a.client.Health.Check(ctx, &grpc.CheckRequest{}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	idle := vmRSSKiB(b, a.cmd.Process.Pid)

	startSandboxContainer(b, a, "rss")
	if _, err := a.agent.GetGuestDetails(ctx, &grpc.GuestDetailsRequest{}); err != nil {
		b.Fatal(err)
	}
	busy := vmRSSKiB(b, a.cmd.Process.Pid)

	for b.Loop() {
		if _, err := a.client.Health.Check(ctx, &grpc.CheckRequest{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(idle), "idle-RSS-KiB")
	b.ReportMetric(float64(busy), "1-container-RSS-KiB")
}
