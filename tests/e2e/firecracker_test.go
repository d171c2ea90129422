//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// Default guest assets, at Kata's install paths.
const (
	defaultFCKernel = "/usr/share/kata-containers/vmlinux.container"
	defaultFCImage  = "/usr/share/kata-containers/kata-containers.img"
)

// TestFirecrackerBootsSandbox boots a sandbox VM with a riscv64 Firecracker
// build and checks that the kata-agent responds to Health.Check over hybrid
// vsock. It runs inside the emulated riscv64 host, which has KVM with the
// in-kernel AIA irqchip that Firecracker's riscv64 port needs.
func TestFirecrackerBootsSandbox(t *testing.T) {
	fcPath := os.Getenv("FIRECRACKER")
	if fcPath == "" {
		t.Skip("needs FIRECRACKER=/path/to/riscv64/firecracker (there is no released riscv64 build), " +
			"FIRECRACKER_KERNEL=<uncompressed riscv64 Image> (default " + defaultFCKernel + "), " +
			"FIRECRACKER_IMAGE=<guest image> (default " + defaultFCImage + ") and /dev/kvm")
	}
	requireRoot(t)
	kernel := envOr("FIRECRACKER_KERNEL", defaultFCKernel)
	image := envOr("FIRECRACKER_IMAGE", defaultFCImage)
	for _, p := range []string{fcPath, kernel, image, "/dev/kvm"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s: %v", p, err)
		}
	}

	logger := logrus.New()
	logger.SetLevel(logrus.DebugLevel)
	hc := vc.HypervisorConfig{
		Type:              vc.FirecrackerHypervisor,
		Path:              fcPath,
		KernelPath:        kernel,
		ImagePath:         image,
		RootfsType:        "ext4",
		DefaultVCPUs:      1,
		MemoryMiB:         512,
		BlockDeviceDriver: vc.BlockDriverVirtioMMIO,
		EnableDebug:       os.Getenv("FIRECRACKER_DEBUG") != "",
		KernelParams:      strings.Fields(os.Getenv("FIRECRACKER_KERNEL_PARAMS")),
	}
	// A short run root keeps the VM's socket paths within the 107 bytes a
	// Unix socket allows.
	runRoot, err := os.MkdirTemp("", "fc-e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(runRoot) }()
	fc, err := vc.NewFirecracker("e2e-fc", hc, vc.AgentConfig{}, vc.FirecrackerOptions{
		RunRoot:     runRoot,
		Logger:      logrus.NewEntry(logger),
		BootTimeout: 2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("NewFirecracker: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := fc.StartVM(ctx); err != nil {
		t.Fatalf("StartVM: %v", err)
	}
	defer func() {
		if err := fc.StopVM(context.Background()); err != nil {
			t.Errorf("StopVM: %v", err)
		}
	}()

	url, err := fc.AgentURL()
	if err != nil {
		t.Fatal(err)
	}
	dialCtx, dialCancel := context.WithTimeout(ctx, 3*time.Minute)
	defer dialCancel()
	agent, err := client.Dial(dialCtx, url, client.WithLogger(logrus.NewEntry(logger)))
	if err != nil {
		t.Fatalf("connecting to the kata-agent at %s: %v", url, err)
	}
	defer func() { _ = agent.Close() }()

	resp, err := agent.Health.Check(ctx, &grpc.CheckRequest{})
	if err != nil {
		t.Fatalf("Health.Check: %v", err)
	}
	if resp.Status != grpc.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check status: got %v, want SERVING", resp.Status)
	}
	// TODO: run a container in this sandbox through containerd-shim-kata-v2
	// once the shim exists.
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
