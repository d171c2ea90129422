//go:build integration

package virtcontainers

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkQemuLaunch measures, in one run, the time from launch to the
// guest's init marker on the console for a bare qemu-system-riscv64 command
// and for the QEMU backend (StartVM plus the same wait), booting the same
// kernel and initrd under TCG. It reports QEMU's resident set size at the
// marker too. Run it with
//
//	KATA_TEST_GUEST_DIR=... go test -tags integration -run '^$' \
//	    -bench BenchmarkQemuLaunch -benchtime 5x ./virtcontainers/
func BenchmarkQemuLaunch(b *testing.B) {
	kernel, initrd := guestAssetsFromBuild(b)
	qemu := requireQEMU(b)

	b.Run("bare", func(b *testing.B) {
		var rssKiB float64
		for range b.N {
			dir := b.TempDir()
			logPath := filepath.Join(dir, "console.log")
			cmd := exec.Command(qemu,
				"-machine", "virt,accel=tcg", "-cpu", "rv64", "-smp", "1", "-m", "512M",
				"-bios", "default", "-nodefaults", "-nographic", "-no-reboot",
				"-kernel", kernel, "-initrd", initrd,
				"-append", "debug console=ttyS0 panic=1",
				"-serial", "file:"+logPath)
			proc, err := startChild(cmd)
			if err != nil {
				b.Fatal(err)
			}
			if err := waitForConsole(logPath, initMarker, proc.exited, bootTimeout); err != nil {
				proc.kill()
				b.Fatal(err)
			}
			b.StopTimer()
			rssKiB += float64(residentKiB(b, proc.pid()))
			proc.kill()
			b.StartTimer()
		}
		b.ReportMetric(rssKiB/float64(b.N), "rss-KiB")
	})

	b.Run("backend", func(b *testing.B) {
		var rssKiB float64
		ctx := context.Background()
		for range b.N {
			cfg := bootConfig(b, kernel, initrd)
			cfg.AIA = AIANone
			q, err := NewQemu("bench", cfg, AgentConfig{Channel: ChannelAuto}, WithRunRoot(b.TempDir()))
			if err != nil {
				b.Fatal(err)
			}
			if err := q.StartVM(ctx); err != nil {
				b.Fatal(err)
			}
			if err := waitForConsole(q.ConsoleLogPath(), initMarker, q.Exited(), bootTimeout); err != nil {
				q.StopVM(ctx)
				b.Fatal(err)
			}
			b.StopTimer()
			rssKiB += float64(residentKiB(b, q.PIDs()[0]))
			stopCtx, cancel := context.WithTimeout(ctx, time.Second)
			q.StopVM(stopCtx)
			cancel()
			b.StartTimer()
		}
		b.ReportMetric(rssKiB/float64(b.N), "rss-KiB")
	})
}

// residentKiB returns VmRSS of a process.
func residentKiB(b *testing.B, pid int) int {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				b.Fatalf("parsing VmRSS %q: %v", rest, err)
			}
			return kib
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
