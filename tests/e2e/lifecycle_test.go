//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/containerdshim/shimtest"
)

// TestKataTaskLifecycle drives sandboxes through this host's containerd
// under nested KVM as a user does with ctr: a terminal, signals, many
// sandboxes in a row and at once, and a shim that dies.
func TestKataTaskLifecycle(t *testing.T) {
	s := setupKata(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	t.Run("terminal", func(t *testing.T) {
		start := time.Now()
		out, code := s.ctr.RunTerminal(ctx, "run", "--rm", "-t", "--runtime", shimtest.Runtime, "--runtime-config-path", s.config,
			"--rootfs", s.rootfs, "e2e-tty", "/bin/sh", "-c", `if [ -t 0 ] && [ -t 1 ]; then echo "tty: true"; else echo "tty: false"; fi`)
		t.Logf("ctr run -t e2e-tty: exit %d after %s", code, time.Since(start).Round(time.Millisecond))
		if code != 0 || !strings.Contains(out, "tty: true") {
			t.Fatalf("ctr run -t: exit %d, output:\n%s", code, out)
		}
	})

	// The container's init is PID 1 of its PID namespace, which the kernel
	// shields from signals it has no handler for, so the shell traps
	// SIGTERM and exits with the status a default SIGTERM death gives.
	t.Run("SIGTERM", func(t *testing.T) {
		s.runDetached(ctx, t, "e2e-term", "/bin/sh", "-c", `trap "exit 143" TERM; sleep 600 & wait`)
		s.killAndCheckStatus(ctx, t, "e2e-term", "SIGTERM", 128+int(syscall.SIGTERM))
	})

	t.Run("SIGKILL", func(t *testing.T) {
		s.runDetached(ctx, t, "e2e-kill", "/bin/sleep", "600")
		s.killAndCheckStatus(ctx, t, "e2e-kill", "SIGKILL", 128+int(syscall.SIGKILL))
	})

	t.Run("ten in a row", func(t *testing.T) {
		for i := range 10 {
			id := fmt.Sprintf("e2e-seq%d", i)
			out, code := s.run(ctx, "", id, "/bin/echo", id)
			if code != 0 || !strings.Contains(out, id) {
				t.Fatalf("%s: exit %d, output:\n%s", id, code, out)
			}
			if left := s.ctr.WaitForCleanup(id, 30*time.Second); len(left) > 0 {
				t.Errorf("%s left behind: %v", id, left)
			}
		}
	})

	t.Run("three at once", func(t *testing.T) {
		ids := []string{"e2e-par0", "e2e-par1", "e2e-par2"}
		errs := make(chan error, len(ids))
		for _, id := range ids {
			go func() {
				out, code := s.run(ctx, "", id, "/bin/echo", id)
				if code != 0 || !strings.Contains(out, id) {
					errs <- fmt.Errorf("%s: exit %d, output:\n%s", id, code, out)
					return
				}
				errs <- nil
			}()
		}
		for range ids {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		s.checkNothingLeft(t, ids...)
	})

	t.Run("shim killed", func(t *testing.T) {
		s.runDetached(ctx, t, "e2e-crash", "/bin/sleep", "600")
		pids := shimtest.ShimPIDs("e2e-crash")
		if len(pids) != 1 {
			t.Fatalf("shim processes of e2e-crash: %v, want one", pids)
		}
		// Only the shim may hold its socket: QEMU or virtiofsd holding it
		// would keep it accepting connections after the shim is killed.
		holders, err := s.ctr.ShimSocketHolders("e2e-crash")
		if err != nil {
			t.Fatal(err)
		}
		if len(holders) != 1 || holders[0] != pids[0] {
			t.Errorf("processes holding the socket of shim %d: %v, want only the shim", pids[0], holders)
		}
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatalf("killing shim %d: %v", pids[0], err)
		}

		// containerd detects that the shim's connection closed and runs
		// `containerd-shim-kata-v2 delete`, which must stop the VM that the
		// dead shim left running.
		start := time.Now()
		left := s.ctr.WaitForCleanup("e2e-crash", 2*time.Minute)
		t.Logf("cleanup after the shim was killed took %s", time.Since(start).Round(time.Millisecond))
		if len(left) > 0 {
			t.Errorf("left behind 2 min after the shim was killed: %v", left)
		}
	})

	t.Run("nothing left behind", func(t *testing.T) {
		s.checkNothingLeft(t, "e2e-tty", "e2e-term", "e2e-kill", "e2e-crash")
	})
}

// killAndCheckStatus sends signal to the running task id, waits for it to
// stop, and checks the exit status that deleting the task reports and that
// the sandbox is gone after its container is deleted.
func (s *kataStack) killAndCheckStatus(ctx context.Context, t *testing.T, id, signal string, want int) {
	t.Helper()
	start := time.Now()
	if err := s.ctr.SignalUntilStopped(ctx, id, signal, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s stopped %s after %s", id, time.Since(start).Round(time.Millisecond), signal)

	status, err := s.ctr.DeleteTask(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if status != want {
		t.Errorf("exit status of %s after %s = %d, want %d", id, signal, status, want)
	}
	if out, code := s.ctr.Run(ctx, "", "container", "delete", id); code != 0 {
		t.Errorf("ctr container delete %s: exit %d:\n%s", id, code, out)
	}
	if left := s.ctr.WaitForCleanup(id, 30*time.Second); len(left) > 0 {
		t.Errorf("%s left behind after delete: %v", id, left)
	}
}
