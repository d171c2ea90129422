//go:build integration

package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// BenchmarkGuestContainerStart measures, in a riscv64 guest under TCG, the
// agent's CreateContainer and StartContainer of a container whose program
// exits at once, then waits for it and removes it. These two calls are the
// guest's share of a cold start through the shim, and crun does most of
// their work.
func BenchmarkGuestContainerStart(b *testing.B) {
	g := bootGuest(b)
	a := g.client.AgentService
	ctx := context.Background()
	if _, err := a.CreateSandbox(ctx, &grpc.CreateSandboxRequest{SandboxId: "bench"}); err != nil {
		b.Fatalf("CreateSandbox: %v", err)
	}

	var create, start time.Duration
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("c%d", i)
		i++

		t0 := time.Now()
		if _, err := a.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: id, OCI: guestSpec(id, "exit", "0")}); err != nil {
			b.Fatalf("CreateContainer %s: %v", id, err)
		}
		t1 := time.Now()
		if _, err := a.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: id}); err != nil {
			b.Fatalf("StartContainer %s: %v", id, err)
		}
		create += t1.Sub(t0)
		start += time.Since(t1)

		if w, err := a.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: id}); err != nil || w.Status != 0 {
			b.Fatalf("WaitProcess %s = %v, %v, want status 0", id, w, err)
		}
		if _, err := a.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: id}); err != nil {
			b.Fatalf("RemoveContainer %s: %v", id, err)
		}
	}
	b.ReportMetric(float64(create.Milliseconds())/float64(i), "create-ms/op")
	b.ReportMetric(float64(start.Milliseconds())/float64(i), "start-ms/op")
}
