//go:build integration

package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/ocispec"
)

// guestBootTimeout bounds the TCG boot of the guest up to the agent's
// first reply. On a 2-core x86 machine that took 10 to 40 s.
const guestBootTimeout = 3 * time.Minute

// guestAssets returns the kernel and agent-init initrd that `make guest`
// builds, or those in $KATA_TEST_GUEST_DIR.
func guestAssets(t testing.TB) (kernel, initrd string) {
	t.Helper()
	dir := os.Getenv("KATA_TEST_GUEST_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "guest")
	}
	kernel = filepath.Join(dir, "vmlinux.container")
	initrd = filepath.Join(dir, "kata-containers-initrd.img")
	for _, p := range []string{kernel, initrd} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs the guest kernel and agent-init initrd (%v): run `make guest`, or set KATA_TEST_GUEST_DIR", err)
		}
	}
	return kernel, initrd
}

// goBuildRiscv64 builds a static riscv64 binary of pkg into path.
func goBuildRiscv64(t testing.TB, pkg, path string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", path, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=riscv64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s for riscv64: %v\n%s", pkg, err, out)
	}
}

// overlayInitrd appends a cpio archive with this tree's agent and a
// container rootfs holding ctool to initrd. The kernel unpacks concatenated
// archives in order, so the appended agent replaces the image's.
func overlayInitrd(t testing.TB, initrd, dir string) string {
	t.Helper()
	tree := filepath.Join(dir, "overlay")
	for _, d := range []string{"usr/bin", "ctr/bin", "ctr/proc", "ctr/dev", "ctr/sys"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	goBuildRiscv64(t, "github.com/kata-riscv64/kata-riscv64/agent/cmd/kata-agent", filepath.Join(tree, "usr/bin/kata-agent"))
	goBuildRiscv64(t, "github.com/kata-riscv64/kata-riscv64/agent/integration/ctool", filepath.Join(tree, "ctr/bin/ctool"))

	var list bytes.Buffer
	err := filepath.Walk(tree, func(path string, _ os.FileInfo, err error) error {
		if err != nil || path == tree {
			return err
		}
		rel, _ := filepath.Rel(tree, path)
		list.WriteString(rel + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cpio", "-o", "-H", "newc", "--quiet")
	cmd.Dir = tree
	cmd.Stdin = &list
	overlay, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio: %v", err)
	}

	base, err := os.ReadFile(initrd)
	if err != nil {
		t.Fatal(err)
	}
	// The kernel looks for the next archive only at a 4-byte boundary.
	for len(base)%4 != 0 {
		base = append(base, 0)
	}
	out := filepath.Join(dir, "initrd.img")
	if err := os.WriteFile(out, append(base, overlay...), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// guestSpec is a spec for ctool in the guest's /ctr rootfs.
func guestSpec(name string, args ...string) *grpc.Spec {
	return ocispec.FromOCI(&specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "/ctr"},
		Process: &specs.Process{Args: append([]string{"/bin/ctool"}, args...), Env: []string{"PATH=/bin"}, Cwd: "/"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
		},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}},
			CgroupsPath: "/kata/" + name,
		},
	})
}

// agentRSS reads the agent's resident set size from GetMetrics.
func agentRSS(ctx context.Context, t *testing.T, c *client.Client) string {
	m, err := c.AgentService.GetMetrics(ctx, &grpc.GetMetricsRequest{})
	if err != nil {
		t.Errorf("GetMetrics: %v", err)
		return "?"
	}
	for _, l := range strings.Split(m.Metrics, "\n") {
		if v, ok := strings.CutPrefix(l, "kata_agent_process_resident_memory_bytes "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return strconv.FormatFloat(f, 'f', 0, 64)
			}
			return v
		}
	}
	t.Errorf("GetMetrics lacks kata_agent_process_resident_memory_bytes")
	return "?"
}

// guestVM is a riscv64 guest booted under QEMU TCG with this tree's agent
// as init, reached over a virtio-serial port.
type guestVM struct {
	client *client.Client
	// exited receives QEMU's exit once, and the receiver puts it back.
	exited  chan error
	console string
}

// bootGuest boots the guest and waits for the agent's first Health.Check
// reply. It skips tb when QEMU, cpio or the guest assets are missing, and
// stops QEMU at the end of tb, logging the console if tb failed.
func bootGuest(tb testing.TB) *guestVM {
	tb.Helper()
	qemu, err := exec.LookPath("qemu-system-riscv64")
	if err != nil {
		tb.Skip("needs qemu-system-riscv64 (Debian package qemu-system-misc)")
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		tb.Skip("needs cpio")
	}
	kernel, baseInitrd := guestAssets(tb)
	dir := tb.TempDir()
	initrd := overlayInitrd(tb, baseInitrd, dir)

	socket := filepath.Join(dir, "agent.sock")
	g := &guestVM{exited: make(chan error, 1), console: filepath.Join(dir, "console.log")}
	logFile, err := os.Create(g.console)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = logFile.Close() })
	vm := exec.Command(qemu,
		"-M", "virt", "-cpu", "rv64", "-smp", "2", "-m", "512", "-bios", "default", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 agent.log=debug",
		"-device", "virtio-serial-pci,id=ser0",
		"-chardev", "socket,id=agent,path="+socket+",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=agent.channel.0,bus=ser0.0",
		"-device", "virtio-rng-pci",
	)
	vm.Stdout, vm.Stderr = logFile, logFile
	if err := vm.Start(); err != nil {
		tb.Fatalf("starting QEMU: %v", err)
	}
	go func() { g.exited <- vm.Wait() }()
	tb.Cleanup(func() {
		select {
		case err := <-g.exited:
			g.exited <- err
		default:
			_ = vm.Process.Kill()
			if err := <-g.exited; err != nil {
				tb.Logf("QEMU stopped by the test: %v", err)
			}
		}
		if tb.Failed() {
			data, _ := os.ReadFile(g.console)
			tb.Logf("guest console:\n%s", data)
		}
	})

	bootCtx, bootCancel := context.WithTimeout(context.Background(), guestBootTimeout)
	defer bootCancel()
	c, err := client.Dial(bootCtx, "unix://"+socket)
	if err == nil {
		// The first Check waits in the port's buffer until the agent opens it.
		_, err = c.Health.Check(bootCtx, &grpc.CheckRequest{})
	}
	if err != nil {
		tb.Fatalf("agent did not answer Health.Check: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	g.client = c
	return g
}

// TestGuestLifecycle boots a riscv64 guest under QEMU TCG with this tree's
// agent as init and drives a container lifecycle over the virtio-serial
// channel, with the guest's crun and cgroup v2.
func TestGuestLifecycle(t *testing.T) {
	g := bootGuest(t)
	c, exited := g.client, g.exited
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := c.AgentService
	t.Logf("agent RSS idle: %s bytes", agentRSS(ctx, t, c))

	if _, err := a.CreateSandbox(ctx, &grpc.CreateSandboxRequest{SandboxId: "guest"}); err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}

	if _, err := a.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c1", OCI: guestSpec("c1", "hello")}); err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := a.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c1"}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	if _, err := a.WriteStdin(ctx, &grpc.WriteStreamRequest{ContainerId: "c1", Data: []byte("ping\n")}); err != nil {
		t.Errorf("WriteStdin: %v", err)
	}
	if out, err := readAll(ctx, a.ReadStdout, "c1", ""); err != nil || out != "hello\ngot:ping\n" {
		t.Errorf("stdout = %q, %v, want %q", out, err, "hello\ngot:ping\n")
	}
	if out, err := readAll(ctx, a.ReadStderr, "c1", ""); err != nil || out != "oops\n" {
		t.Errorf("stderr = %q, %v, want %q", out, err, "oops\n")
	}
	if w, err := a.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c1"}); err != nil || w.Status != 42 {
		t.Errorf("WaitProcess = %v, %v, want status 42", w, err)
	}
	if _, err := a.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: "c1"}); err != nil {
		t.Errorf("RemoveContainer: %v", err)
	}

	if _, err := a.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c2", OCI: guestSpec("c2", "sleep")}); err != nil {
		t.Fatalf("CreateContainer c2: %v", err)
	}
	if _, err := a.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c2"}); err != nil {
		t.Fatalf("StartContainer c2: %v", err)
	}
	t.Logf("agent RSS with one container: %s bytes", agentRSS(ctx, t, c))

	stats, err := a.StatsContainer(ctx, &grpc.StatsContainerRequest{ContainerId: "c2"})
	if err != nil {
		t.Errorf("StatsContainer: %v", err)
	} else {
		// pids.current counts threads, and the Go runtime of ctool runs several.
		if stats.CgroupStats.PidsStats.Current == 0 {
			t.Errorf("pids.current = 0, want the threads of ctool sleep")
		}
		if stats.CgroupStats.MemoryStats.Usage.Usage == 0 {
			t.Errorf("memory usage = 0, want the container's memory.current")
		}
	}

	exec := guestSpec("c2", "exit", "3").Process
	if _, err := a.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "c2", ExecId: "e1", Process: exec}); err != nil {
		t.Fatalf("ExecProcess: %v", err)
	}
	if w, err := a.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c2", ExecId: "e1"}); err != nil || w.Status != 3 {
		t.Errorf("exec WaitProcess = %v, %v, want status 3", w, err)
	}
	if _, err := a.SignalProcess(ctx, &grpc.SignalProcessRequest{ContainerId: "c2", Signal: 9}); err != nil {
		t.Errorf("SignalProcess: %v", err)
	}
	if w, err := a.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c2"}); err != nil || w.Status != 137 {
		t.Errorf("WaitProcess after SIGKILL = %v, %v, want status 137", w, err)
	}
	if _, err := a.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: "c2"}); err != nil {
		t.Errorf("RemoveContainer c2: %v", err)
	}

	if _, err := a.DestroySandbox(ctx, &grpc.DestroySandboxRequest{}); err != nil {
		t.Errorf("DestroySandbox: %v", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("QEMU exited with %v after the guest powered off, want success", err)
		}
		exited <- err
	case <-time.After(time.Minute):
		t.Errorf("guest did not power off within a minute of DestroySandbox")
	}
}
