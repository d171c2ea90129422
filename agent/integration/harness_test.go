//go:build integration

package integration

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/ocispec"
)

// busyboxApplets are linked into the test rootfs; busybox-static provides
// them all.
var busyboxApplets = []string{"sh", "echo", "cat", "sleep", "true", "stty", "ls", "kill", "tr"}

var (
	buildOnce  sync.Once
	agentPath  string
	buildError error
)

// buildAgent builds the host kata-agent once per test binary, unless
// KATA_AGENT_BINARY names one to test (a -race build, for instance).
func buildAgent(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv("KATA_AGENT_BINARY"); bin != "" {
		return bin
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kata-agent-build-")
		if err != nil {
			buildError = err
			return
		}
		agentPath = filepath.Join(dir, "kata-agent")
		cmd := exec.Command("go", "build", "-o", agentPath, "github.com/kata-riscv64/kata-riscv64/agent/cmd/kata-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildError = fmt.Errorf("go build kata-agent: %w: %s", err, out)
		}
	})
	if buildError != nil {
		tb.Fatal(buildError)
	}
	return agentPath
}

// requireRootAndRunc skips unless the test can run containers.
func requireRootAndRunc(tb testing.TB) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root to run containers with runc")
	}
	runtime, err := exec.LookPath("runc")
	if err != nil {
		tb.Skip("needs runc in PATH (Debian package runc)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("needs /bin/busybox for the container rootfs (Debian package busybox-static)")
	}
	return runtime
}

// agentProcess is a running agent and a client connected to it.
type agentProcess struct {
	cmd    *exec.Cmd
	dir    string
	rootfs string
	client *client.Client
	agent  grpc.AgentServiceService
	// exited is closed when the agent exited; exitErr is its Wait result.
	exited  chan struct{}
	exitErr error
	log     *os.File
}

// startAgent runs kata-agent with its state, socket and resolv.conf in a
// temporary directory.
func startAgent(tb testing.TB) *agentProcess {
	tb.Helper()
	requireRootAndRunc(tb)
	bin := buildAgent(tb)
	dir := tb.TempDir()

	socket := filepath.Join(dir, "agent.sock")
	cmdline := filepath.Join(dir, "cmdline")
	content := fmt.Sprintf("console=hvc0 agent.server_addr=unix://%s agent.log=debug agent.oci_runtime=runc\n", socket)
	if err := os.WriteFile(cmdline, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		tb.Fatal(err)
	}

	cmd := exec.Command(bin,
		"-cmdline", cmdline,
		"-state-dir", filepath.Join(dir, "state"),
		"-resolv-conf", filepath.Join(dir, "resolv.conf"),
		"-set-hostname=false",
		"-power-off=false",
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting kata-agent: %v", err)
	}
	a := &agentProcess{cmd: cmd, dir: dir, rootfs: makeRootfs(tb, dir), exited: make(chan struct{}), log: logFile}
	go func() {
		a.exitErr = cmd.Wait()
		close(a.exited)
	}()
	tb.Cleanup(func() { a.stop(tb) })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "unix://"+socket, client.WithRetryInterval(20*time.Millisecond))
	if err != nil {
		tb.Fatalf("connecting to the agent: %v\nagent log:\n%s", err, a.logText())
	}
	a.client = c
	a.agent = c.AgentService
	return a
}

func (a *agentProcess) logText() string {
	data, _ := os.ReadFile(a.log.Name())
	return string(data)
}

// stop ends the agent if it still runs and reports its log on failure.
func (a *agentProcess) stop(tb testing.TB) {
	if a.client != nil {
		_ = a.client.Close()
	}
	select {
	case <-a.exited:
	default:
		_ = a.cmd.Process.Signal(os.Interrupt)
		select {
		case <-a.exited:
		case <-time.After(10 * time.Second):
			_ = a.cmd.Process.Kill()
			<-a.exited
		}
		if a.exitErr != nil {
			tb.Errorf("agent exited with %v after SIGINT, want a clean stop", a.exitErr)
		}
	}
	if tb.Failed() {
		tb.Logf("agent log:\n%s", a.logText())
	}
	_ = a.log.Close()
}

// makeRootfs builds a busybox root file system under dir.
func makeRootfs(tb testing.TB, dir string) string {
	tb.Helper()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	data, err := os.ReadFile("/bin/busybox")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), data, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, applet := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			tb.Fatal(err)
		}
	}
	return rootfs
}

// containerSpec returns an OCI spec close to runc's default for args.
func containerSpec(rootfs string, terminal bool, args ...string) *grpc.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	spec := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs},
		Process: &specs.Process{
			Terminal:     terminal,
			Args:         args,
			Env:          []string{"PATH=/bin", "TERM=xterm"},
			Cwd:          "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "container",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
				// The agent drops the network namespace: containers share
				// the guest's.
				{Type: specs.NetworkNamespace},
			},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}
	return ocispec.FromOCI(spec)
}

// readAll reads a stream with read until the agent signals its end.
func readAll(ctx context.Context, read func(context.Context, *grpc.ReadStreamRequest) (*grpc.ReadStreamResponse, error), containerID, execID string) (string, error) {
	var out strings.Builder
	for {
		resp, err := read(ctx, &grpc.ReadStreamRequest{ContainerId: containerID, ExecId: execID, Len: 4096})
		if client.IsEOF(err) {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
		out.Write(resp.Data)
	}
}

// children returns the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The parent pid is the 4th field, after the parenthesised name.
		s := string(data)
		fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// vmRSSKiB returns VmRSS of pid in KiB.
func vmRSSKiB(tb testing.TB, pid int) int {
	tb.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				tb.Fatalf("parsing VmRSS %q: %v", v, err)
			}
			return kib
		}
	}
	tb.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
