//go:build integration

package containerdshim_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/containerdshim/shimtest"
)

// This test runs containers through a real containerd and the built shim,
// with QEMU under TCG and the guest from `make guest`: the whole stack on a
// machine without riscv64 KVM. On this path the agent channel is the
// virtio-serial port and the shared filesystem virtio-9p, because neither
// /dev/vhost-vsock nor virtiofsd is needed for them.

// repoRoot returns the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", "..", ".."))
}

type stack struct {
	t      *testing.T
	ctr    *shimtest.Ctr
	dir    string
	config string
	rootfs string
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: run 'make deps'", tool)
		}
	}
}

// startStack starts containerd in a private root with the shim on its PATH,
// writes a TCG configuration for the built guest, and builds a rootfs with
// the riscv64 test program.
func startStack(t *testing.T) *stack {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	needTools(t, "containerd", "ctr", "qemu-system-riscv64")

	root := repoRoot(t)
	shimDir := filepath.Join(root, "build", runtime.GOARCH)
	guest := filepath.Join(root, "build", "guest")
	initrd := filepath.Join(guest, "kata-containers-initrd.img")
	for _, f := range []string{filepath.Join(shimDir, "containerd-shim-kata-v2"), filepath.Join(guest, "vmlinux.container"), initrd} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing: run 'make build guest'", f)
		}
	}

	s := &stack{t: t, dir: t.TempDir()}
	s.ctr = &shimtest.Ctr{Address: filepath.Join(s.dir, "containerd.sock"), Namespace: "kata-it"}

	// The Kata configuration: the shipped one, pointed at the built kernel
	// and agent-init initrd and switched to TCG.
	shipped, err := os.ReadFile(filepath.Join(root, "configs", "configuration-qemu.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(shipped)
	for _, kv := range [][2]string{
		{"kernel", fmt.Sprintf("kernel = %q", filepath.Join(guest, "vmlinux.container"))},
		{"image", fmt.Sprintf("initrd = %q", initrd)},
		{"accelerator", `accelerator = "tcg"`},
		{"shared_fs", `shared_fs = "virtio-9p"`},
		{"dial_timeout", "dial_timeout = 240"},
	} {
		if cfg, err = shimtest.SetKey(cfg, kv[0], kv[1]); err != nil {
			t.Fatalf("deriving the configuration from configs/configuration-qemu.toml: %v", err)
		}
	}
	s.config = filepath.Join(s.dir, "configuration.toml")
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	s.rootfs = filepath.Join(s.dir, "rootfs")
	build := exec.Command("go", "build", "-o", filepath.Join(s.rootfs, "guestprog"), "./testdata/guestprog")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=riscv64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the riscv64 test program: %v\n%s", err, out)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(s.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	ctdConfig := filepath.Join(s.dir, "containerd.toml")
	if err := os.WriteFile(ctdConfig, []byte(fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
`, filepath.Join(s.dir, "root"), filepath.Join(s.dir, "state"), s.ctr.Address)), 0o644); err != nil {
		t.Fatal(err)
	}

	logFile, err := os.Create(filepath.Join(s.dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	ctd := exec.Command("containerd", "--config", ctdConfig, "--log-level", "debug")
	ctd.Env = append(os.Environ(), "PATH="+shimDir+":"+os.Getenv("PATH"))
	ctd.Stdout, ctd.Stderr = logFile, logFile
	if err := ctd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		_ = ctd.Process.Kill()
		_ = ctd.Wait()
		logFile.Close()
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("containerd log (last 4 KiB):\n%s", tail(data, 4096))
		}
	})

	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := exec.Command("ctr", "--address", s.ctr.Address, "version").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd did not come up within 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func (s *stack) run(ctx context.Context, stdin, id string, cmd ...string) (string, int) {
	args := []string{"run", "--rm", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config}
	args = append(append(args, "--rootfs", s.rootfs, id), cmd...)
	return s.ctr.Run(ctx, stdin, args...)
}

func TestContainerdRunsKataContainer(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	t.Run("output", func(t *testing.T) {
		out, code := s.run(ctx, "", "kata-echo", "/guestprog", "echo", "hello from riscv64")
		if code != 0 || !strings.Contains(out, "hello from riscv64") {
			t.Fatalf("ctr run: exit %d, output:\n%s", code, out)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		out, code := s.run(ctx, "", "kata-exit", "/guestprog", "exit", "42")
		if code != 42 {
			t.Fatalf("exit code = %d, want 42; output:\n%s", code, out)
		}
		if !strings.Contains(out, "exiting with 42") {
			t.Errorf("stderr of the container missing from the output:\n%s", out)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		out, code := s.run(ctx, "line one\nline two\n", "kata-cat", "/guestprog", "cat")
		if code != 0 || !strings.Contains(out, "line one\nline two") {
			t.Fatalf("ctr run with stdin: exit %d, output:\n%s", code, out)
		}
	})

	t.Run("nothing left behind", func(t *testing.T) {
		for _, id := range []string{"kata-echo", "kata-exit", "kata-cat"} {
			s.checkCleanup(t, id)
		}
	})
}

// checkCleanup fails t if sandbox id left anything on the host after a wait
// of up to 30 s.
func (s *stack) checkCleanup(t *testing.T, id string) {
	t.Helper()
	if left := s.ctr.WaitForCleanup(id, 30*time.Second); len(left) > 0 {
		t.Errorf("%s left behind: %v", id, left)
	}
}

// waitStopped waits up to 60 s for task id to stop.
func (s *stack) waitStopped(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	if err := s.ctr.WaitStopped(ctx, id, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}

// runDetached starts a long-running container and registers its removal.
func (s *stack) runDetached(ctx context.Context, id string) {
	s.t.Helper()
	out, code := s.ctr.Run(ctx, "", "run", "-d", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config,
		"--rootfs", s.rootfs, id, "/guestprog", "sleep", "600")
	s.t.Cleanup(func() { s.ctr.Remove(id) })
	if code != 0 {
		s.t.Fatalf("ctr run -d %s: exit %d:\n%s", id, code, out)
	}
}

func TestContainerdTaskLifecycle(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	t.Run("exec", func(t *testing.T) {
		s.runDetached(ctx, "kata-exec")
		out, code := s.ctr.Run(ctx, "", "task", "exec", "--exec-id", "e1", "kata-exec", "/guestprog", "echo", "inside the sandbox")
		if code != 0 || !strings.Contains(out, "inside the sandbox") {
			t.Fatalf("ctr task exec: exit %d, output:\n%s", code, out)
		}
		out, code = s.ctr.Run(ctx, "", "task", "exec", "--exec-id", "e2", "kata-exec", "/guestprog", "exit", "7")
		if code != 7 {
			t.Errorf("exec exit code = %d, want 7; output:\n%s", code, out)
		}
	})

	t.Run("SIGTERM", func(t *testing.T) {
		s.runDetached(ctx, "kata-term")
		if err := s.ctr.SignalUntilStopped(ctx, "kata-term", "SIGTERM", 60*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SIGKILL", func(t *testing.T) {
		s.runDetached(ctx, "kata-kill")
		if out, code := s.ctr.Run(ctx, "", "task", "kill", "-s", "SIGKILL", "kata-kill"); code != 0 {
			t.Fatalf("ctr task kill SIGKILL: exit %d:\n%s", code, out)
		}
		s.waitStopped(ctx, t, "kata-kill")
		status, err := s.ctr.DeleteTask(ctx, "kata-kill")
		if err != nil {
			t.Fatal(err)
		}
		if status != 137 {
			t.Errorf("exit status after SIGKILL = %d, want 137", status)
		}
		s.ctr.Run(ctx, "", "container", "delete", "kata-kill")
		s.checkCleanup(t, "kata-kill")
	})

	t.Run("terminal", func(t *testing.T) {
		out, code := s.ctr.RunTerminal(ctx, "run", "--rm", "-t", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config,
			"--rootfs", s.rootfs, "kata-tty", "/guestprog", "tty")
		if code != 0 || !strings.Contains(out, "tty: true") {
			t.Fatalf("ctr run -t: exit %d, output:\n%s", code, out)
		}
	})

	t.Run("ten in a row", func(t *testing.T) {
		for i := range 10 {
			id := fmt.Sprintf("kata-seq%d", i)
			out, code := s.run(ctx, "", id, "/guestprog", "echo", id)
			if code != 0 || !strings.Contains(out, id) {
				t.Fatalf("%s: exit %d, output:\n%s", id, code, out)
			}
			s.checkCleanup(t, id)
		}
	})

	t.Run("three at once", func(t *testing.T) {
		errs := make(chan error, 3)
		for i := range 3 {
			go func() {
				id := fmt.Sprintf("kata-par%d", i)
				out, code := s.run(ctx, "", id, "/guestprog", "echo", id)
				if code != 0 || !strings.Contains(out, id) {
					errs <- fmt.Errorf("%s: exit %d, output:\n%s", id, code, out)
					return
				}
				errs <- nil
			}()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		for i := range 3 {
			s.checkCleanup(t, fmt.Sprintf("kata-par%d", i))
		}
	})

	t.Run("shim killed", func(t *testing.T) {
		s.runDetached(ctx, "kata-crash")
		pids := shimtest.ShimPIDs("kata-crash")
		if len(pids) != 1 {
			t.Fatalf("shim processes of kata-crash: %v, want one", pids)
		}
		// Only the shim may hold its socket: QEMU or virtiofsd holding it
		// would keep it accepting connections after the shim is killed.
		holders, err := s.ctr.ShimSocketHolders("kata-crash")
		if err != nil {
			t.Fatal(err)
		}
		if len(holders) != 1 || holders[0] != pids[0] {
			t.Errorf("processes holding the socket of shim %d: %v, want only the shim", pids[0], holders)
		}
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatalf("killing shim %d: %v", pids[0], err)
		}

		// containerd runs `containerd-shim-kata-v2 delete`, which must stop
		// the VM the dead shim left running.
		if left := s.ctr.WaitForCleanup("kata-crash", 60*time.Second); len(left) > 0 {
			t.Errorf("left behind 60 s after the shim was killed: %v", left)
		}
	})
}

func TestContainerdRejectsBadInput(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	inputs, err := shimtest.BadInputs(s.dir, s.config, s.rootfs, "kata-bad-")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		t.Run(in.Name, func(t *testing.T) {
			shimtest.CheckRejected(ctx, t, s.ctr, in, "/guestprog", "echo", shimtest.MustNotRun)
		})
	}
}

func TestContainerdPodSharesSandbox(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The annotations containerd's CRI plugin sets on a pod's containers.
	podArgs := func(kind string) []string {
		return []string{"--annotation", "io.kubernetes.cri.container-type=" + kind, "--annotation", "io.kubernetes.cri.sandbox-id=kata-pod"}
	}

	args := append([]string{"run", "-d", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config}, podArgs("sandbox")...)
	out, code := s.ctr.Run(ctx, "", append(args, "--rootfs", s.rootfs, "kata-pod", "/guestprog", "sleep", "600")...)
	t.Cleanup(func() { s.ctr.Remove("kata-pod") })
	if code != 0 {
		t.Fatalf("starting the pod sandbox: exit %d:\n%s", code, out)
	}

	args = append([]string{"run", "--rm", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config}, podArgs("container")...)
	out, code = s.ctr.Run(ctx, "", append(args, "--rootfs", s.rootfs, "kata-pod-app", "/guestprog", "echo", "in the pod")...)
	if code != 0 || !strings.Contains(out, "in the pod") {
		t.Fatalf("pod container: exit %d:\n%s", code, out)
	}
	if left := s.ctr.Leftovers("kata-pod-app"); len(left) > 0 {
		t.Errorf("the pod container got a sandbox of its own: %v", left)
	}
	if len(s.ctr.Leftovers("kata-pod")) == 0 {
		t.Error("the pod sandbox stopped when its second container was removed")
	}

	s.ctr.Run(ctx, "", "task", "kill", "-s", "SIGKILL", "kata-pod")
	s.waitStopped(ctx, t, "kata-pod")
	s.ctr.Run(ctx, "", "task", "delete", "kata-pod")
	s.checkCleanup(t, "kata-pod")
}

// getUnix fetches path from the HTTP server on the Unix socket sock.
func getUnix(t *testing.T, sock, path string) string {
	t.Helper()
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}},
	}
	resp, err := client.Get("http://shim" + path)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, sock, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s on %s: %s\n%s", path, sock, resp.Status, body)
	}
	return string(body)
}

func getTCP(t *testing.T, url string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}

func TestContainerdSandboxMetrics(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	monitorBin := filepath.Join(repoRoot(t), "build", runtime.GOARCH, "kata-monitor")
	if _, err := os.Stat(monitorBin); err != nil {
		t.Skipf("%s missing: run 'make build'", monitorBin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	mon := exec.Command(monitorBin, "-listen-address", addr, "-runtime-endpoint", s.ctr.Address)
	mon.Stdout, mon.Stderr = os.Stderr, os.Stderr
	if err := mon.Start(); err != nil {
		t.Fatalf("starting kata-monitor: %v", err)
	}
	// Best-effort cleanup: the exit status of the killed monitor carries no information.
	t.Cleanup(func() { _ = mon.Process.Kill(); _ = mon.Wait() })

	s.runDetached(ctx, "kata-mon1")
	s.runDetached(ctx, "kata-mon2")

	sock := "/run/vc/sbs/kata-mon1/shim-monitor.sock"
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("monitor socket %s: %v, mode %v; want mode 0600", sock, err, fi)
	}
	metrics := getUnix(t, sock, "/metrics")
	for _, family := range []string{"kata_hypervisor_", "process_resident_memory_bytes", "kata_agent_"} {
		if !strings.Contains(metrics, family) {
			t.Errorf("shim /metrics lacks %s", family)
		}
	}
	if url := getUnix(t, sock, "/agent-url"); !strings.HasPrefix(url, "unix://") && !strings.HasPrefix(url, "vsock://") {
		t.Errorf("/agent-url = %q, want the agent's address", url)
	}

	var sandboxes string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		sandboxes = getTCP(t, "http://"+addr+"/sandboxes")
		if strings.Contains(sandboxes, "kata-mon1") && strings.Contains(sandboxes, "kata-mon2") {
			break
		}
	}
	if !strings.Contains(sandboxes, "kata-mon1") || !strings.Contains(sandboxes, "kata-mon2") {
		t.Fatalf("kata-monitor /sandboxes = %q, want both sandboxes", sandboxes)
	}
	all := getTCP(t, "http://"+addr+"/metrics")
	for _, want := range []string{`sandbox_id="kata-mon1"`, `sandbox_id="kata-mon2"`, "kata_hypervisor_", "kata_agent_", "kata_shim_"} {
		if !strings.Contains(all, want) {
			t.Errorf("kata-monitor /metrics lacks %s", want)
		}
	}

	s.ctr.Run(ctx, "", "task", "kill", "-s", "SIGKILL", "kata-mon2")
	s.waitStopped(ctx, t, "kata-mon2")
	s.ctr.Run(ctx, "", "task", "delete", "kata-mon2")
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		sandboxes = getTCP(t, "http://"+addr+"/sandboxes")
		if !strings.Contains(sandboxes, "kata-mon2") {
			break
		}
	}
	if strings.Contains(sandboxes, "kata-mon2") {
		t.Errorf("kata-monitor still lists the removed sandbox: %q", sandboxes)
	}
	if strings.Contains(getTCP(t, "http://"+addr+"/metrics"), `sandbox_id="kata-mon2"`) {
		t.Error("kata-monitor /metrics still has the removed sandbox")
	}
}
