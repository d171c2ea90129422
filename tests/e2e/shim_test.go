//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// kataStack is containerd of this host with the built shim installed and a
// configuration for the built guest.
type kataStack struct {
	t      *testing.T
	config string
	rootfs string
}

// setupKata installs the shim where containerd looks for it, writes a Kata
// configuration for the built kernel and agent-init initrd (KVM, vsock and
// virtio-fs by default), and makes a busybox rootfs.
func setupKata(t *testing.T) *kataStack {
	t.Helper()
	if !hostHasH(t) {
		t.Skip("the host has no H extension (KATA_E2E_HOST_H=absent)")
	}
	requireRoot(t)
	for _, tool := range []string{"ctr", "qemu-system-riscv64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages containerd and qemu-system-riscv)", tool)
		}
	}

	build := buildDir(t)
	guest := filepath.Join(build, "guest")
	template := filepath.Join(build, "configs", "configuration-qemu.toml")
	for _, f := range []string{filepath.Join(guest, "vmlinux.container"), filepath.Join(guest, "kata-containers-initrd.img"), template} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing: run 'make guest' and 'make e2e', which copies configs/ into the build directory", f)
		}
	}

	// containerd finds io.containerd.kata.v2 as containerd-shim-kata-v2 in its
	// PATH, which includes /usr/local/bin.
	shim := binary(t, "containerd-shim-kata-v2")
	link := "/usr/local/bin/containerd-shim-kata-v2"
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Symlink(shim, link); err != nil {
		t.Fatalf("installing the shim: %v", err)
	}

	data, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(data)
	cfg = setKey(t, cfg, "kernel", fmt.Sprintf("kernel = %q", filepath.Join(guest, "vmlinux.container")))
	cfg = setKey(t, cfg, "image", fmt.Sprintf("initrd = %q", filepath.Join(guest, "kata-containers-initrd.img")))
	cfg = setKey(t, cfg, "dial_timeout", "dial_timeout = 120")
	s := &kataStack{t: t, config: filepath.Join(t.TempDir(), "configuration.toml")}
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	s.rootfs = filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(s.rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(staticBusybox(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.rootfs, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "echo", "cat", "sleep", "uname"} {
		if err := os.Symlink("busybox", filepath.Join(s.rootfs, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// setKey replaces the first line that sets key, commented out or not.
func setKey(t *testing.T, cfg, key, line string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(key) + `\s*=.*$`)
	loc := re.FindStringIndex(cfg)
	if loc == nil {
		t.Fatalf("the shipped configuration has no key %s", key)
	}
	return cfg[:loc[0]] + line + cfg[loc[1]:]
}

// ctr runs ctr in the e2e namespace and returns its combined output and
// exit code.
func (s *kataStack) ctr(ctx context.Context, stdin string, args ...string) (string, int) {
	s.t.Helper()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--namespace", "kata-e2e"}, args...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exitErr):
		return out.String(), exitErr.ExitCode()
	default:
		s.t.Fatalf("ctr %v: %v", args, err)
		return "", -1
	}
}

func (s *kataStack) run(ctx context.Context, stdin, id string, cmd ...string) (string, int) {
	args := []string{"run", "--rm", "--runtime", "io.containerd.kata.v2", "--runtime-config-path", s.config, "--rootfs", s.rootfs, id}
	start := time.Now()
	out, code := s.ctr(ctx, stdin, append(args, cmd...)...)
	s.t.Logf("ctr run %s: exit %d after %s", id, code, time.Since(start).Round(time.Millisecond))
	return out, code
}

func TestContainerInKataSandbox(t *testing.T) {
	s := setupKata(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	t.Run("output", func(t *testing.T) {
		out, code := s.run(ctx, "", "e2e-echo", "/bin/sh", "-c", "echo hello from kata; uname -m")
		if code != 0 || !strings.Contains(out, "hello from kata") || !strings.Contains(out, "riscv64") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		out, code := s.run(ctx, "", "e2e-exit", "/bin/sh", "-c", "exit 42")
		if code != 42 {
			t.Fatalf("exit code = %d, want 42; output:\n%s", code, out)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		out, code := s.run(ctx, "piped line\n", "e2e-cat", "/bin/cat")
		if code != 0 || !strings.Contains(out, "piped line") {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
	})

	t.Run("exec", func(t *testing.T) {
		out, code := s.ctr(ctx, "", "run", "-d", "--runtime", "io.containerd.kata.v2", "--runtime-config-path", s.config,
			"--rootfs", s.rootfs, "e2e-exec", "/bin/sleep", "600")
		if code != 0 {
			t.Fatalf("ctr run -d: exit %d:\n%s", code, out)
		}
		defer func() {
			s.ctr(context.Background(), "", "task", "kill", "-s", "SIGKILL", "e2e-exec")
			time.Sleep(2 * time.Second)
			s.ctr(context.Background(), "", "task", "delete", "--force", "e2e-exec")
			s.ctr(context.Background(), "", "container", "delete", "e2e-exec")
		}()
		out, code = s.ctr(ctx, "", "task", "exec", "--exec-id", "x1", "e2e-exec", "/bin/echo", "from exec")
		if code != 0 || !strings.Contains(out, "from exec") {
			t.Fatalf("ctr task exec: exit %d:\n%s", code, out)
		}
	})

	t.Run("nothing left behind", func(t *testing.T) {
		time.Sleep(3 * time.Second)
		if out, _ := exec.Command("pgrep", "-af", "qemu-system-riscv64 -name sandbox-e2e-").Output(); len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("QEMU left running:\n%s", out)
		}
		for _, dir := range []string{"/run/vc/sbs", "/run/vc/vm", "/run/kata-containers/shared/sandboxes"} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "e2e-") {
					t.Errorf("%s/%s left behind", dir, e.Name())
				}
			}
		}
	})
}
