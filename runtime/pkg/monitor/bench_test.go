package monitor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	"github.com/prometheus/procfs"
)

// guestAgentText returns agent metrics shaped like a Kata agent's GetMetrics
// output: the agent's process families and the guest's /proc families, about
// 400 samples in all.
func guestAgentText() string {
	var b strings.Builder
	family := func(name, help string, samples func(add func(labels string, v float64))) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		samples(func(labels string, v float64) {
			fmt.Fprintf(&b, "%s{%s} %g\n", name, labels, v)
		})
	}
	items := func(prefix string, n int) func(add func(string, float64)) {
		return func(add func(string, float64)) {
			for i := range n {
				add(fmt.Sprintf(`item="%s_%d"`, prefix, i), float64(i*4096))
			}
		}
	}

	family("kata_agent_proc_status", "Agent process status.", items("status", 19))
	family("kata_agent_proc_stat", "Agent process stat.", items("stat", 4))
	family("kata_agent_io_stat", "Agent process IO stat.", items("io", 7))
	family("kata_guest_meminfo", "Statistics about memory usage on the system.", items("mem", 60))
	family("kata_guest_vm_stat", "Guest virtual memory stat.", items("vm", 150))
	family("kata_guest_load", "Guest system load.", items("load", 3))
	family("kata_guest_cpu_time", "Guest CPU stat.", func(add func(string, float64)) {
		for _, cpu := range []string{"total", "0", "1"} {
			for i := range 10 {
				add(fmt.Sprintf(`cpu="%s",item="field_%d"`, cpu, i), float64(i))
			}
		}
	})
	family("kata_guest_netdev_stat", "Guest net devices stats.", func(add func(string, float64)) {
		for _, dev := range []string{"eth0", "lo"} {
			for i := range 16 {
				add(fmt.Sprintf(`interface="%s",item="field_%d"`, dev, i), float64(i))
			}
		}
	})
	family("kata_guest_diskstat", "Disks stat in system.", func(add func(string, float64)) {
		for _, disk := range []string{"vda", "vdb"} {
			for i := range 17 {
				add(fmt.Sprintf(`disk="%s",item="field_%d"`, disk, i), float64(i))
			}
		}
	})
	return b.String()
}

// startBenchShims starts n shim monitor servers with guest-sized agent
// metrics under a new sandboxes directory.
func startBenchShims(b *testing.B, n int) string {
	b.Helper()
	dir := shortTempDir(b)
	text := guestAgentText()
	for i := range n {
		id := fmt.Sprintf("sb%03d", i)
		s, err := shimmonitor.Start(shimmonitor.Config{SandboxesDir: dir, Logger: quietLogger()},
			&fakeSandbox{id: id, agentURL: "vsock://3:1024", agentMetrics: text})
		if err != nil {
			b.Fatalf("starting shim %s: %v", id, err)
		}
		b.Cleanup(func() { _ = s.Close() })
	}
	return dir
}

// BenchmarkMetricsScrape measures one /metrics request to kata-monitor, with
// every shim a real shim monitor server in this process. cpu-ms/op is the
// CPU time of the whole process, so it includes the shims' work.
func BenchmarkMetricsScrape(b *testing.B) {
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("shims=%d", n), func(b *testing.B) {
			dir := startBenchShims(b, n)
			tm := startMonitor(b, Config{SandboxesDir: dir})
			want := make([]string, n)
			for i := range n {
				want[i] = fmt.Sprintf("sb%03d", i)
			}
			tm.waitForSandboxes(b, want...)
			client := &http.Client{Timeout: time.Minute}

			var size int
			cpuBefore := processCPUTime(b, os.Getpid())
			b.ResetTimer()
			for range b.N {
				resp, err := client.Get(tm.url + "/metrics")
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("GET /metrics: status %d, error %v", resp.StatusCode, err)
				}
				size = len(body)
			}
			b.StopTimer()
			b.ReportMetric(float64(size)/1024, "KiB/response")
			b.ReportMetric((processCPUTime(b, os.Getpid())-cpuBefore)*1000/float64(b.N), "cpu-ms/op")

			families, _ := tm.getMetrics(b, "/metrics")
			if v, _ := sample(b, families, "kata_monitor_scrape_failed_count", nil); v != 0 {
				b.Errorf("kata_monitor_scrape_failed_count: got %v, want 0", v)
			}
		})
	}
}

// BenchmarkKataMonitorRSS builds the kata-monitor binary, points it at 50
// shim monitor servers and reports its VmRSS after b.N scrapes of /metrics,
// and its VmHWM, the peak.
func BenchmarkKataMonitorRSS(b *testing.B) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		b.Skipf("this benchmark builds kata-monitor and needs the go command: %v", err)
	}
	binary := filepath.Join(b.TempDir(), "kata-monitor")
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, "../../cmd/kata-monitor")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kata-monitor: %v\n%s", err, out)
	}

	const shims = 50
	dir := startBenchShims(b, shims)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "-listen-address", "127.0.0.1:0",
		"-sandboxes-dir", dir, "-runtime-endpoint", "", "-log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting kata-monitor: %v", err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
	}()

	url := "http://" + listenAddressFromLog(b, stderr)
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	deadline := time.Now().Add(time.Minute)
	for {
		_, body := httpGet(b, url+"/sandboxes", "")
		if strings.Count(body, "\n") == shims {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("kata-monitor found %d sandboxes after a minute, want %d", strings.Count(body, "\n"), shims)
		}
		time.Sleep(20 * time.Millisecond)
	}

	cpuBefore := processCPUTime(b, cmd.Process.Pid)
	b.ResetTimer()
	for range b.N {
		if status, _ := httpGet(b, url+"/metrics", ""); status != http.StatusOK {
			b.Fatalf("GET /metrics: status %d", status)
		}
	}
	b.StopTimer()

	status := readProcStatus(b, cmd.Process.Pid)
	b.ReportMetric(status["VmRSS"], "VmRSS-KiB")
	b.ReportMetric(status["VmHWM"], "VmHWM-KiB")
	b.ReportMetric((processCPUTime(b, cmd.Process.Pid)-cpuBefore)*1000/float64(b.N), "monitor-cpu-ms/op")
}

// processCPUTime returns the user and system CPU seconds of process pid,
// with the kernel's clock-tick resolution.
func processCPUTime(b *testing.B, pid int) float64 {
	b.Helper()
	proc, err := procfs.NewProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	stat, err := proc.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return stat.CPUTime()
}

var startedLine = regexp.MustCompile(`kata-monitor started.*address="?([0-9.:]+)`)

// listenAddressFromLog reads kata-monitor's log until its start line and
// returns the address it listens on.
func listenAddressFromLog(b *testing.B, stderr io.Reader) string {
	b.Helper()
	scanner := bufio.NewScanner(stderr)
	for scanner.Scan() {
		if m := startedLine.FindStringSubmatch(scanner.Text()); m != nil {
			return m[1]
		}
	}
	b.Fatalf("kata-monitor exited before logging its address: %v", scanner.Err())
	return ""
}

// readProcStatus returns the kB fields of /proc/<pid>/status.
func readProcStatus(b *testing.B, pid int) map[string]float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[string]float64)
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(value, " kB") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(value, " kB")), 64)
		if err == nil {
			out[key] = v
		}
	}
	return out
}
