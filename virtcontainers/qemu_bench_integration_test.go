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

	"github.com/sirupsen/logrus"
)

// BenchmarkQemuLaunch measures, in one run, the time from launch to the
// guest's init marker on the console for a bare qemu-system-riscv64 command
// and for the QEMU backend (StartVM plus the same wait), booting the same
// kernel and initrd under TCG, and for the backend's command line started
// directly. Rotating the order in each iteration spreads load from other
// processes over all three. It reports the mean times, the backend's
// overhead over the bare boot in percent, and QEMU's resident set size at
// the marker. ns/op is the sum of the three boots. Run it with
//
//	KATA_TEST_GUEST_DIR=... go test -tags integration -run '^$' \
//	    -bench BenchmarkQemuLaunch -benchtime 10x ./virtcontainers/
//
// NOTE: on a quiet machine the backend boot took 0.1 to 0.25 s longer than
// the same command line started directly (probes measured 30 ms); where
// the rest goes is not yet known.
func BenchmarkQemuLaunch(b *testing.B) {
	kernel, initrd := guestAssetsFromBuild(b)
	qemu := requireQEMU(b)

	// Each iteration boots three times, in rotating order: bare, bare with
	// the backend's command line, and through the backend.
	boots := []struct {
		name string
		boot func() (time.Duration, int)
	}{
		{"bare", func() (time.Duration, int) { return bootBare(b, qemu, kernel, initrd) }},
		{"same-args", func() (time.Duration, int) { return bootBackendArgs(b, qemu, kernel, initrd) }},
		{"backend", func() (time.Duration, int) { return bootBackend(b, kernel, initrd) }},
	}
	total := make([]time.Duration, len(boots))
	rss := make([]int, len(boots))
	for i := range b.N {
		for j := range boots {
			k := (i + j) % len(boots)
			d, kib := boots[k].boot()
			total[k] += d
			rss[k] += kib
		}
	}

	n := float64(b.N)
	for k, boot := range boots {
		b.ReportMetric(total[k].Seconds()/n, boot.name+"-s")
		b.ReportMetric(float64(rss[k])/n/1024, boot.name+"-rss-MiB")
	}
	bare, backend := total[0].Seconds(), total[2].Seconds()
	b.ReportMetric(100*(backend-bare)/bare, "overhead-%")
}

// bootBackendArgs boots the guest with exactly the backend's QEMU command
// line, started directly, with the console in a file, and returns the time
// to the init marker and QEMU's RSS in KiB then. Against bootBackend it
// isolates the cost of the backend's own work; against bootBare, that of
// the sandbox devices.
func bootBackendArgs(b *testing.B, qemu, kernel, initrd string) (time.Duration, int) {
	runRoot := b.TempDir()
	cfg := bootConfig(b, kernel, initrd)
	cfg.AIA = AIANone
	q, err := NewQemu("bench", cfg, AgentConfig{Channel: ChannelAuto}, WithRunRoot(runRoot), WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	launch, err := q.resolveLaunch()
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Mkdir(launch.paths.dir, 0o700); err != nil {
		b.Fatal(err)
	}
	args := launch.args()
	for i, arg := range args {
		args[i] = strings.Replace(arg, "socket,id="+consoleChardevID+",path="+launch.paths.console,
			"file,id="+consoleChardevID+",path="+launch.paths.consoleLog, 1)
	}

	start := time.Now()
	proc, err := startChild(exec.Command(qemu, args...))
	if err != nil {
		b.Fatal(err)
	}
	defer proc.kill()
	if err := waitForConsole(launch.paths.consoleLog, initMarker, proc.exited, bootTimeout); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	return elapsed, residentKiB(b, proc.pid())
}

// bootBare boots the guest with a minimal QEMU command line and returns the
// time to the init marker and QEMU's RSS in KiB then.
func bootBare(b *testing.B, qemu, kernel, initrd string) (time.Duration, int) {
	logPath := filepath.Join(b.TempDir(), "console.log")
	start := time.Now()
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
	defer proc.kill()
	if err := waitForConsole(logPath, initMarker, proc.exited, bootTimeout); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	return elapsed, residentKiB(b, proc.pid())
}

// bootBackend boots the guest through NewQemu and StartVM and returns the
// time to the init marker and QEMU's RSS in KiB then.
func bootBackend(b *testing.B, kernel, initrd string) (time.Duration, int) {
	ctx := context.Background()
	cfg := bootConfig(b, kernel, initrd)
	cfg.AIA = AIANone
	start := time.Now()
	q, err := NewQemu("bench", cfg, AgentConfig{Channel: ChannelAuto}, WithRunRoot(b.TempDir()), WithLogger(quietLogger()))
	if err != nil {
		b.Fatal(err)
	}
	stop := func() {
		stopCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_ = q.StopVM(stopCtx) // best-effort cleanup between iterations; StopVM kills QEMU at the deadline
	}
	defer stop()
	if err := q.StartVM(ctx); err != nil {
		b.Fatal(err)
	}
	if err := waitForConsole(q.ConsoleLogPath(), initMarker, q.Exited(), bootTimeout); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	return elapsed, residentKiB(b, q.PIDs()[0])
}

// quietLogger keeps the backend's info lines out of benchmark output.
func quietLogger() *logrus.Entry {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return logrus.NewEntry(l).WithField("source", "virtcontainers")
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
