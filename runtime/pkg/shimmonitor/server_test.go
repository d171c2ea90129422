package shimmonitor

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
)

// fakeSandbox is a test double for the shim's sandbox.
type fakeSandbox struct {
	id       string
	pids     []int
	agentURL string
	agentErr error

	// agentMetrics is returned by AgentMetrics unless agentMetricsErr is
	// set or hang is true.
	agentMetrics    string
	agentMetricsErr error
	// hang makes AgentMetrics block until its context is done, or forever
	// when ignoreContext is also set (until release is closed).
	hang          bool
	ignoreContext bool
	release       chan struct{}
}

func (f *fakeSandbox) ID() string                { return f.id }
func (f *fakeSandbox) HypervisorPIDs() []int     { return f.pids }
func (f *fakeSandbox) AgentURL() (string, error) { return f.agentURL, f.agentErr }

func (f *fakeSandbox) AgentMetrics(ctx context.Context) (string, error) {
	if f.hang {
		if f.ignoreContext {
			<-f.release
			return "", errors.New("released")
		}
		<-ctx.Done()
		return "", ctx.Err()
	}
	return f.agentMetrics, f.agentMetricsErr
}

// shortTempDir returns a temporary directory with a short path, because a
// Unix socket path holds at most 107 bytes and t.TempDir() paths are long.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func quietLogger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func startServer(t *testing.T, cfg Config, sb *fakeSandbox) *Server {
	t.Helper()
	if cfg.SandboxesDir == "" {
		cfg.SandboxesDir = shortTempDir(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	s, err := Start(cfg, sb)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// get requests path from the server on socket and returns the status and body.
func get(t *testing.T, socket, path string) (int, string) {
	t.Helper()
	client := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socket)
			},
		},
	}
	resp, err := client.Get("http://shim" + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

func getMetrics(t *testing.T, socket string) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := get(t, socket, MetricsPath)
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want 200; body:\n%s", status, body)
	}
	families, err := ParseText(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
	}
	return families
}

// findSample returns the value of the sample of family name whose labels
// include want, and whether there is one.
func findSample(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf, ok := families[name]
	if !ok {
		return 0, false
	}
	for _, m := range mf.Metric {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
		return 0, true
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.Label {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestSocketModeAndRemoval(t *testing.T) {
	s := startServer(t, Config{}, &fakeSandbox{id: "sb1"})

	info, err := os.Stat(s.SocketPath())
	if err != nil {
		t.Fatalf("stat socket: %v", err)
	}
	if info.Mode().Type() != os.ModeSocket {
		t.Errorf("socket type: got %v, want a socket", info.Mode().Type())
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode: got %#o, want 0600", got)
	}
	if got, want := filepath.Base(s.SocketPath()), SocketName; got != want {
		t.Errorf("socket name: got %s, want %s", got, want)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(s.SocketPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Close: got err %v, want it removed", err)
	}
}

func TestStartReplacesStaleSocket(t *testing.T) {
	dir := shortTempDir(t)
	path := SocketPath(dir, "sb1")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	_ = stale.Close()

	s := startServer(t, Config{SandboxesDir: dir}, &fakeSandbox{id: "sb1", agentURL: "vsock://3:1024"})
	if status, body := get(t, s.SocketPath(), AgentURLPath); status != http.StatusOK || body != "vsock://3:1024" {
		t.Errorf("agent-url after replacing a stale socket: got %d %q, want 200 %q", status, body, "vsock://3:1024")
	}
}

func TestCloseKeepsReplacedSocket(t *testing.T) {
	dir := shortTempDir(t)
	first := startServer(t, Config{SandboxesDir: dir}, &fakeSandbox{id: "sb1", agentURL: "first"})
	second := startServer(t, Config{SandboxesDir: dir}, &fakeSandbox{id: "sb1", agentURL: "second"})

	if err := first.Close(); err != nil {
		t.Fatalf("closing the replaced server: %v", err)
	}
	status, body := get(t, second.SocketPath(), AgentURLPath)
	if status != http.StatusOK || body != "second" {
		t.Errorf("agent-url after the old server closed: got %d %q, want 200 %q", status, body, "second")
	}
}

func TestStartRejectsInvalidID(t *testing.T) {
	for _, id := range []string{"", ".", "..", "a/b"} {
		t.Run(strconv.Quote(id), func(t *testing.T) {
			_, err := Start(Config{SandboxesDir: shortTempDir(t), Logger: quietLogger()}, &fakeSandbox{id: id})
			if err == nil {
				t.Errorf("Start with id %q: got no error, want one", id)
			}
		})
	}
}

func TestAgentURL(t *testing.T) {
	tests := []struct {
		name       string
		sb         *fakeSandbox
		wantStatus int
		wantBody   string
	}{
		{"ok", &fakeSandbox{id: "sb", agentURL: "vsock://1234:1024"}, http.StatusOK, "vsock://1234:1024"},
		{"error", &fakeSandbox{id: "sb", agentErr: errors.New("no agent")}, http.StatusInternalServerError, "agent URL unavailable: no agent\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{}, tt.sb)
			status, body := get(t, s.SocketPath(), AgentURLPath)
			if status != tt.wantStatus {
				t.Errorf("status: got %d, want %d", status, tt.wantStatus)
			}
			if body != tt.wantBody {
				t.Errorf("body: got %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func TestPprofEndpoints(t *testing.T) {
	paths := []string{PprofPath, PprofPath + "cmdline", PprofPath + "goroutine?debug=1", ExpvarPath}
	tests := []struct {
		name       string
		enable     bool
		wantStatus int
	}{
		{"disabled", false, http.StatusNotFound},
		{"enabled", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, Config{EnablePprof: tt.enable}, &fakeSandbox{id: "sb"})
			for _, p := range paths {
				if status, _ := get(t, s.SocketPath(), p); status != tt.wantStatus {
					t.Errorf("GET %s: got status %d, want %d", p, status, tt.wantStatus)
				}
			}
		})
	}
}

func TestMetricsHypervisorProcess(t *testing.T) {
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Skipf("this test needs the sleep command: %v", err)
	}
	t.Cleanup(func() {
		_ = sleep.Process.Kill()
		_ = sleep.Wait()
	})
	pid := sleep.Process.Pid

	s := startServer(t, Config{}, &fakeSandbox{id: "sb", pids: []int{pid, pid}})
	families := getMetrics(t, s.SocketPath())

	proc := map[string]string{"pid": strconv.Itoa(pid), "comm": "sleep"}
	for _, name := range []string{"kata_hypervisor_threads", "kata_hypervisor_fds", "kata_hypervisor_process_resident_memory_bytes"} {
		v, ok := findSample(families, name, proc)
		if !ok {
			t.Errorf("%s%v: missing", name, proc)
			continue
		}
		if v <= 0 {
			t.Errorf("%s%v: got %v, want > 0", name, proc, v)
		}
	}
	if _, ok := findSample(families, "kata_hypervisor_process_cpu_seconds_total", proc); !ok {
		t.Errorf("kata_hypervisor_process_cpu_seconds_total%v: missing", proc)
	}
	rss := map[string]string{"pid": strconv.Itoa(pid), "comm": "sleep", "item": "vmrss"}
	if v, ok := findSample(families, "kata_hypervisor_proc_status", rss); !ok || v <= 0 {
		t.Errorf("kata_hypervisor_proc_status%v: got %v (present %v), want > 0", rss, v, ok)
	}
	utime := map[string]string{"pid": strconv.Itoa(pid), "item": "utime"}
	if _, ok := findSample(families, "kata_hypervisor_proc_stat", utime); !ok {
		t.Errorf("kata_hypervisor_proc_stat%v: missing", utime)
	}
	if n := len(families["kata_hypervisor_threads"].GetMetric()); n != 1 {
		t.Errorf("kata_hypervisor_threads samples for a PID listed twice: got %d, want 1", n)
	}

	// The shim's own process, under upstream's names.
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines", "kata_shim_threads", "kata_shim_fds"} {
		if _, ok := findSample(families, name, nil); !ok {
			t.Errorf("shim metric %s: missing", name)
		}
	}
}

func TestMetricsHypervisorGone(t *testing.T) {
	sleep := exec.Command("sleep", "600")
	if err := sleep.Start(); err != nil {
		t.Skipf("this test needs the sleep command: %v", err)
	}
	pid := sleep.Process.Pid
	_ = sleep.Process.Kill()
	_ = sleep.Wait()

	s := startServer(t, Config{}, &fakeSandbox{id: "sb", pids: []int{pid}})
	families := getMetrics(t, s.SocketPath())
	if _, ok := families["kata_hypervisor_threads"]; ok {
		t.Errorf("kata_hypervisor_threads for an exited process: present, want absent")
	}
	if _, ok := findSample(families, "kata_shim_threads", nil); !ok {
		t.Errorf("kata_shim_threads: missing after the hypervisor exited")
	}
}

const agentText = `# HELP kata_agent_total_rss Agent process total rss size
# TYPE kata_agent_total_rss gauge
kata_agent_total_rss 4.2e+06
# HELP kata_guest_meminfo Statistics about memory usage in the guest.
# TYPE kata_guest_meminfo gauge
kata_guest_meminfo{item="mem_total"} 2.097152e+09
kata_guest_meminfo{item="mem_free"} 1.5e+09
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 7
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds{origin="agent"} 12
`

func TestMetricsAgentPassthrough(t *testing.T) {
	s := startServer(t, Config{}, &fakeSandbox{id: "sb", agentMetrics: agentText})
	families := getMetrics(t, s.SocketPath())

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kata_agent_total_rss", nil, 4.2e6},
		{"kata_guest_meminfo", map[string]string{"item": "mem_total"}, 2.097152e9},
		{"kata_guest_meminfo", map[string]string{"item": "mem_free"}, 1.5e9},
		{"kata_agent_go_goroutines", nil, 7},
		{"kata_agent_process_open_fds", map[string]string{"origin": "agent"}, 12},
	}
	for _, tt := range tests {
		got, ok := findSample(families, tt.name, tt.labels)
		if !ok {
			t.Errorf("%s%v: missing", tt.name, tt.labels)
			continue
		}
		if got != tt.want {
			t.Errorf("%s%v: got %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if got := families["kata_guest_meminfo"].GetHelp(); got != "Statistics about memory usage in the guest." {
		t.Errorf("kata_guest_meminfo HELP: got %q, want the agent's", got)
	}
	// The shim's go_goroutines is its own, not the agent's renamed one.
	if v, ok := findSample(families, "go_goroutines", nil); !ok || v == 7 && len(families["go_goroutines"].Metric) != 1 {
		t.Errorf("shim go_goroutines: got %v (present %v), want the shim's single sample", v, ok)
	}
	if v, _ := findSample(families, "kata_shim_agent_metrics_errors_total", nil); v != 0 {
		t.Errorf("agent errors after a good scrape: got %v, want 0", v)
	}
}

func TestMetricsAgentFailures(t *testing.T) {
	tests := []struct {
		name       string
		sb         *fakeSandbox
		wantReason string
	}{
		{"error", &fakeSandbox{agentMetricsErr: errors.New("ttrpc: closed")}, agentErrFailed},
		{"hang", &fakeSandbox{hang: true}, agentErrTimeout},
		{"hang ignoring context", &fakeSandbox{hang: true, ignoreContext: true, release: make(chan struct{})}, agentErrTimeout},
		{"invalid text", &fakeSandbox{agentMetrics: "kata_agent_x{ 1\n"}, agentErrInvalid},
		{"shim family other type", &fakeSandbox{agentMetrics: "# TYPE kata_shim_threads counter\nkata_shim_threads 3\n"}, agentErrInvalid},
		{"shim family same type", &fakeSandbox{agentMetrics: "# TYPE kata_shim_threads gauge\nkata_shim_threads 3\n"}, agentErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sb.id = "sb"
			if tt.sb.release != nil {
				t.Cleanup(func() { close(tt.sb.release) })
			}
			s := startServer(t, Config{AgentMetricsTimeout: 200 * time.Millisecond}, tt.sb)

			var families map[string]*dto.MetricFamily
			for range 2 {
				families = getMetrics(t, s.SocketPath())
			}

			if _, ok := findSample(families, "kata_shim_threads", nil); !ok {
				t.Errorf("kata_shim_threads: missing, want the shim's metrics despite the agent")
			}
			if n := len(families["kata_shim_threads"].GetMetric()); n != 1 {
				t.Errorf("kata_shim_threads samples: got %d, want only the shim's 1", n)
			}
			// A colliding family is found only after the shim's registry
			// was gathered, so the counter catches up one scrape later.
			v, ok := findSample(families, "kata_shim_agent_metrics_errors_total", map[string]string{"reason": tt.wantReason})
			if !ok || v < 1 {
				t.Errorf("kata_shim_agent_metrics_errors_total{reason=%q}: got %v (present %v), want >= 1", tt.wantReason, v, ok)
			}
		})
	}
}

func TestMetricsConcurrentScrapes(t *testing.T) {
	s := startServer(t, Config{}, &fakeSandbox{id: "sb", agentMetrics: agentText})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			getMetrics(t, s.SocketPath())
		}()
	}
	wg.Wait()
}
