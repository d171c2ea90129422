//go:build e2e

package e2e

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// Default guest assets, at Kata's install paths.
const (
	defaultFCKernel = "/usr/share/kata-containers/vmlinux.container"
	defaultFCImage  = "/usr/share/kata-containers/kata-containers.img"
)

// TestFirecrackerRunsContainer boots a sandbox with a riscv64 Firecracker
// build and runs a busybox container in it. The container's rootfs directory
// is copied into an ext4 image, hot-plugged into a placeholder drive and
// mounted read-only by the agent. The test runs inside the emulated riscv64
// host, which has KVM with the in-kernel AIA irqchip that Firecracker's
// riscv64 port needs.
func TestFirecrackerRunsContainer(t *testing.T) {
	fcPath := os.Getenv("FIRECRACKER")
	if fcPath == "" {
		t.Skip("needs FIRECRACKER=/path/to/riscv64/firecracker (there is no released riscv64 build), " +
			"FIRECRACKER_KERNEL=<uncompressed riscv64 Image with virtio-mmio, virtio-blk, ext4 and vsock built in> (default " + defaultFCKernel + "), " +
			"FIRECRACKER_IMAGE=<guest image with the kata-agent> (default " + defaultFCImage + "), /dev/kvm, e2fsprogs and a static busybox")
	}
	requireRoot(t)
	kernel := envOr("FIRECRACKER_KERNEL", defaultFCKernel)
	image := envOr("FIRECRACKER_IMAGE", defaultFCImage)
	for _, p := range []string{fcPath, kernel, image, "/dev/kvm"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs %s: %v", p, err)
		}
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		t.Skipf("needs mkfs.ext4 (Debian package e2fsprogs) to convert the container's rootfs directory: %v", err)
	}
	rootfs := busyboxRootfs(t)

	// The sandbox logs to logrus's standard logger, which the test output
	// shows.
	logrus.SetLevel(logrus.DebugLevel)
	hc := vc.HypervisorConfig{
		Type:                   vc.FirecrackerHypervisor,
		Path:                   fcPath,
		KernelPath:             kernel,
		ImagePath:              image,
		RootfsType:             "ext4",
		DefaultVCPUs:           1,
		MemoryMiB:              512,
		BlockDeviceDriver:      vc.BlockDriverVirtioMMIO,
		ConvertRootfsDirectory: true,
		EnableDebug:            os.Getenv("FIRECRACKER_DEBUG") != "",
		KernelParams:           strings.Fields(os.Getenv("FIRECRACKER_KERNEL_PARAMS")),
	}
	// A short root keeps the VM's socket paths within the 107 bytes a Unix
	// socket allows.
	root, err := os.MkdirTemp("", "fc-e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(root) }()
	paths := vc.Paths{
		SandboxRoot: filepath.Join(root, "sbs"),
		VMRoot:      filepath.Join(root, "vm"),
		SharedRoot:  filepath.Join(root, "shared"),
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb, err := vc.CreateSandbox(ctx, vc.SandboxConfig{
		ID:             "e2e-fc",
		HypervisorType: vc.FirecrackerHypervisor,
		Hypervisor:     hc,
		Agent:          vc.AgentConfig{DialTimeout: 3 * time.Minute},
		Paths:          paths,
	})
	if err != nil {
		t.Fatalf("CreateSandbox on Firecracker: %v", err)
	}
	sandboxDeleted := false
	defer func() {
		if !sandboxDeleted {
			_ = sb.Delete(context.Background()) // best-effort cleanup when the test ends early
		}
	}()

	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs, Readonly: true},
		Process: &specs.Process{
			Args: []string{"/bin/sh", "-c", `echo hello from firecracker; grep " / " /proc/mounts; touch /probe 2>/dev/null && echo root writable || echo root read-only; exit 7`},
			Env:  []string{"PATH=/bin"},
			Cwd:  "/",
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}},
		},
	}
	c, err := sb.CreateContainer(ctx, vc.ContainerConfig{ID: "e2e-fc-c1", Spec: spec, BundlePath: t.TempDir()})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	imagePath := paths.RootfsImage("e2e-fc", "e2e-fc-c1")
	if _, err := os.Stat(imagePath); err != nil {
		t.Errorf("rootfs image while the container exists: %v", err)
	}

	type output struct {
		data []byte
		err  error
	}
	stdout := make(chan output, 1)
	go func() {
		data, err := io.ReadAll(c.Streams("").Stdout)
		stdout <- output{data, err}
	}()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	status, err := c.Wait(ctx, "")
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	result := <-stdout
	if result.err != nil {
		t.Errorf("reading the container's stdout: %v", result.err)
	}
	out := string(result.data)
	t.Logf("container output:\n%s", out)
	if status != 7 {
		t.Errorf("exit status = %d, want 7", status)
	}
	for _, want := range []string{"hello from firecracker", "/dev/vdb / ext4 ro", "root read-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("container output does not contain %q", want)
		}
	}

	if err := c.Delete(ctx); err != nil {
		t.Errorf("container Delete: %v", err)
	}
	if _, err := os.Stat(imagePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rootfs image after Delete: stat error %v, want it removed", err)
	}
	sandboxDeleted = true
	if err := sb.Delete(ctx); err != nil {
		t.Errorf("sandbox Delete: %v", err)
	}
	for _, dir := range []string{paths.SandboxRoot, filepath.Join(root, "firecracker"), paths.SharedRoot} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			t.Errorf("%s/%s left behind after the sandbox was deleted", dir, e.Name())
		}
	}
}

// busyboxRootfs returns a container rootfs directory with a static busybox
// and the applets the test runs.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile(staticBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "echo", "grep", "touch"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
