//go:build integration

package containerdshim_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
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
	t       *testing.T
	dir     string
	address string
	config  string
	rootfs  string
	ns      string
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
	for _, f := range []string{filepath.Join(shimDir, "containerd-shim-kata-v2"), filepath.Join(guest, "vmlinux.container"), filepath.Join(guest, "kata-containers.img")} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing: run 'make build guest'", f)
		}
	}

	s := &stack{t: t, dir: t.TempDir(), ns: "kata-it"}
	s.address = filepath.Join(s.dir, "containerd.sock")

	// The Kata configuration: the shipped one, pointed at the built guest
	// and switched to TCG.
	shipped, err := os.ReadFile(filepath.Join(root, "configs", "configuration-qemu.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(shipped)
	cfg = replaceKey(cfg, "kernel", fmt.Sprintf("%q", filepath.Join(guest, "vmlinux.container")))
	cfg = replaceKey(cfg, "image", fmt.Sprintf("%q", filepath.Join(guest, "kata-containers.img")))
	cfg = replaceKey(cfg, "accelerator", `"tcg"`)
	cfg = replaceKey(cfg, "shared_fs", `"virtio-9p"`)
	cfg = replaceKey(cfg, "dial_timeout", "240")
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
`, filepath.Join(s.dir, "root"), filepath.Join(s.dir, "state"), s.address)), 0o644); err != nil {
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
		if err := exec.Command("ctr", "--address", s.address, "version").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd did not come up within 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

func replaceKey(cfg, key, value string) string {
	re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(key) + `\s*=.*$`)
	if !re.MatchString(cfg) {
		panic("configuration has no key " + key)
	}
	done := false
	return re.ReplaceAllStringFunc(cfg, func(string) string {
		if done {
			return ""
		}
		done = true
		return key + " = " + value
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ctr runs ctr against the stack's containerd with stdin and returns its
// combined output and exit code.
func (s *stack) ctr(ctx context.Context, stdin string, args ...string) (string, int) {
	s.t.Helper()
	full := append([]string{"--address", s.address, "--namespace", s.ns}, args...)
	cmd := exec.CommandContext(ctx, "ctr", full...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("ctr %v: %v", args, err)
	}
	return out.String(), code
}

func (s *stack) run(ctx context.Context, stdin, id string, cmd ...string) (string, int) {
	args := []string{"run", "--rm", "--runtime", "io.containerd.kata.v2", "--runtime-config-path", s.config}
	args = append(append(args, "--rootfs", s.rootfs, id), cmd...)
	return s.ctr(ctx, stdin, args...)
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
		out, _ := exec.Command("pgrep", "-f", "qemu-system-riscv64.*kata-").CombinedOutput()
		if len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("QEMU processes left running: %s", out)
		}
		for _, dir := range []string{"/run/vc/sbs", "/run/vc/vm", "/run/kata-containers/shared/sandboxes"} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "kata-") {
					t.Errorf("%s/%s left behind", dir, e.Name())
				}
			}
		}
	})
}
