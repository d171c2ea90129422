//go:build integration

package virtcontainers

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// BenchmarkQemuLaunch measures, in one run, the time from launch to the
// agent's first line on the console for a bare qemu-system-riscv64 command
// and for the QEMU backend (StartVM plus the same wait), booting the same
// kernel and initrd under TCG, and for the backend's command line started
// directly. All three boot without debug output, as sandboxes do, because
// a debug guest also prints the kernel's messages, through the SBI firmware
// at first (earlycon), which the bare boot would not do. Rotating the order
// in each iteration spreads load from other processes over all three. It
// reports the median times, the backend's overhead over the bare boot in
// percent, and QEMU's mean resident set size at the marker. ns/op is the
// sum of the three boots. Run it with
//
//	KATA_TEST_GUEST_DIR=... go test -tags integration -run '^$' \
//	    -bench BenchmarkQemuLaunch -benchtime 10x ./virtcontainers/
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
	times := make([][]time.Duration, len(boots))
	rss := make([]int, len(boots))
	for i := range b.N {
		for j := range boots {
			k := (i + j) % len(boots)
			d, kib := boots[k].boot()
			times[k] = append(times[k], d)
			rss[k] += kib
		}
	}

	// Medians, because a load spike on a shared machine can stretch a
	// single TCG boot several times and would dominate a mean.
	medians := make([]float64, len(boots))
	for k, boot := range boots {
		medians[k] = median(times[k]).Seconds()
		b.ReportMetric(medians[k], boot.name+"-p50-s")
		b.ReportMetric(float64(rss[k])/float64(b.N)/1024, boot.name+"-rss-MiB")
	}
	b.ReportMetric(100*(medians[2]-medians[0])/medians[0], "overhead-%")
}

// median returns the middle of durations, or the mean of the two middle
// ones for an even count.
func median(durations []time.Duration) time.Duration {
	sorted := slices.Clone(durations)
	slices.Sort(sorted)
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// bootBackendArgs boots the guest with exactly the backend's QEMU command
// line, started directly, with the console in a file, and returns the time
// to the agent marker and QEMU's RSS in KiB then. Against bootBackend it
// isolates the cost of the backend's own work; against bootBare, that of
// the sandbox devices.
func bootBackendArgs(b *testing.B, qemu, kernel, initrd string) (time.Duration, int) {
	runRoot := b.TempDir()
	cfg := launchConfig(b, kernel, initrd)
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
	if err := waitForConsole(launch.paths.consoleLog, agentMarker, proc.exited, bootTimeout); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	return elapsed, residentKiB(b, proc.pid())
}

// bootBare boots the guest with a minimal QEMU command line and returns the
// time to the agent marker and QEMU's RSS in KiB then.
func bootBare(b *testing.B, qemu, kernel, initrd string) (time.Duration, int) {
	logPath := filepath.Join(b.TempDir(), "console.log")
	start := time.Now()
	cmd := exec.Command(qemu,
		"-machine", "virt,accel=tcg", "-cpu", "rv64", "-smp", "1", "-m", "512M",
		"-bios", "default", "-nodefaults", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "quiet console=ttyS0 panic=1",
		"-serial", "file:"+logPath)
	proc, err := startChild(cmd)
	if err != nil {
		b.Fatal(err)
	}
	defer proc.kill()
	if err := waitForConsole(logPath, agentMarker, proc.exited, bootTimeout); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	return elapsed, residentKiB(b, proc.pid())
}

// bootBackend boots the guest through NewQemu and StartVM and returns the
// time to the agent marker and QEMU's RSS in KiB then.
func bootBackend(b *testing.B, kernel, initrd string) (time.Duration, int) {
	ctx := context.Background()
	cfg := launchConfig(b, kernel, initrd)
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
	if err := waitForConsole(q.ConsoleLogPath(), agentMarker, q.Exited(), bootTimeout); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	return elapsed, residentKiB(b, q.PIDs()[0])
}

// agentMarker is the agent's first console line, which it writes at the
// default log level as soon as it runs as init.
var agentMarker = regexp.MustCompile(`msg="agent starting"`)

// launchConfig is the configuration of the launch benchmark: bootConfig
// without debug output and with the PLIC, as the bare boot has.
func launchConfig(b *testing.B, kernel, initrd string) HypervisorConfig {
	cfg := bootConfig(b, kernel, initrd)
	cfg.EnableDebug = false
	cfg.AIA = AIANone
	return cfg
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
