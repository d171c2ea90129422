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
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/containerdshim/shimtest"
)

// kataStack is containerd of this host with the built shim installed and a
// configuration for the built guest.
type kataStack struct {
	t      *testing.T
	ctr    *shimtest.Ctr
	dir    string
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
	since := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			logContainerdJournal(t, since)
		}
	})

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
	// A sandbox boots in 20 to 40 s under nested KVM. Three at once share
	// the host's 2 harts and 4 GiB, so the agent gets 120 s and each guest
	// 512 MiB instead of the shipped 2048.
	for _, kv := range [][2]string{
		{"kernel", fmt.Sprintf("kernel = %q", filepath.Join(guest, "vmlinux.container"))},
		{"image", fmt.Sprintf("initrd = %q", filepath.Join(guest, "kata-containers-initrd.img"))},
		{"dial_timeout", "dial_timeout = 120"},
		{"default_memory", "default_memory = 512"},
	} {
		if cfg, err = shimtest.SetKey(cfg, kv[0], kv[1]); err != nil {
			t.Fatalf("deriving the configuration from %s: %v", template, err)
		}
	}
	s := &kataStack{t: t, ctr: &shimtest.Ctr{Namespace: "kata-e2e"}, dir: t.TempDir()}
	s.config = filepath.Join(s.dir, "configuration.toml")
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	s.rootfs = filepath.Join(s.dir, "rootfs")
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

// logContainerdJournal logs the end of containerd's journal since the time
// since. The journal also holds the logs of the shims that containerd
// started, which show why a shim failed or exited early.
func logContainerdJournal(t *testing.T, since time.Time) {
	out, err := exec.Command("journalctl", "--unit", "containerd", "--no-pager", "--output", "cat",
		"--since", since.Format("2006-01-02 15:04:05")).CombinedOutput()
	if err != nil {
		t.Logf("reading containerd's journal: %v\n%s", err, out)
		return
	}
	const limit = 32 << 10
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	t.Logf("containerd's journal since the test started (last %d KiB):\n%s", limit>>10, out)
}

// run runs cmd in a new container id with `ctr run --rm` and returns the
// output and exit code.
func (s *kataStack) run(ctx context.Context, stdin, id string, cmd ...string) (string, int) {
	args := []string{"run", "--rm", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config, "--rootfs", s.rootfs, id}
	start := time.Now()
	out, code := s.ctr.Run(ctx, stdin, append(args, cmd...)...)
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
		s.runDetached(ctx, t, "e2e-exec", "/bin/sleep", "600")
		out, code := s.ctr.Run(ctx, "", "task", "exec", "--exec-id", "x1", "e2e-exec", "/bin/echo", "from exec")
		if code != 0 || !strings.Contains(out, "from exec") {
			t.Fatalf("ctr task exec: exit %d:\n%s", code, out)
		}
		out, code = s.ctr.Run(ctx, "", "task", "exec", "--exec-id", "x2", "e2e-exec", "/bin/sh", "-c", "exit 7")
		if code != 7 {
			t.Errorf("exec exit code = %d, want 7; output:\n%s", code, out)
		}
	})

	t.Run("nothing left behind", func(t *testing.T) {
		s.checkNothingLeft(t, "e2e-echo", "e2e-exit", "e2e-cat", "e2e-exec")
	})
}

// runDetached starts cmd in a new container id with `ctr run -d`, and
// removes the container when t ends.
func (s *kataStack) runDetached(ctx context.Context, t *testing.T, id string, cmd ...string) {
	t.Helper()
	args := []string{"run", "-d", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config, "--rootfs", s.rootfs, id}
	start := time.Now()
	out, code := s.ctr.Run(ctx, "", append(args, cmd...)...)
	t.Logf("ctr run -d %s: exit %d after %s", id, code, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { s.ctr.Remove(id) })
	if code != 0 {
		t.Fatalf("ctr run -d %s: exit %d:\n%s", id, code, out)
	}
}

// checkNothingLeft fails t if a sandbox of ids, or any other sandbox whose
// id starts with "e2e-", left anything on the host. It waits up to 30 s for
// each, because the shim and its VM go away shortly after ctr returns.
func (s *kataStack) checkNothingLeft(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if left := s.ctr.WaitForCleanup(id, 30*time.Second); len(left) > 0 {
			t.Errorf("%s left behind: %v", id, left)
		}
	}
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
}
