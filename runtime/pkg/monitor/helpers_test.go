package monitor

import (
	"context"

	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
)

// fakeSandbox is a test double for a shim's sandbox behind a real
// shimmonitor server.
type fakeSandbox struct {
	id           string
	agentURL     string
	agentMetrics string
}

func (f *fakeSandbox) ID() string                { return f.id }
func (f *fakeSandbox) HypervisorPIDs() []int     { return []int{os.Getpid()} }
func (f *fakeSandbox) AgentURL() (string, error) { return f.agentURL, nil }
func (f *fakeSandbox) AgentMetrics(context.Context) (string, error) {
	return f.agentMetrics, nil
}

// agentTextFor returns agent metrics whose values identify sandbox id.
func agentTextFor(rss int) string {
	return fmt.Sprintf(`# HELP kata_agent_total_rss Agent process total rss size
# TYPE kata_agent_total_rss gauge
kata_agent_total_rss %d
# HELP kata_guest_load Guest system load.
# TYPE kata_guest_load gauge
kata_guest_load{item="load1"} 0.5
kata_guest_load{item="load5"} 0.25
`, rss)
}

func quietLogger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// shortTempDir returns a temporary directory with a short path, because a
// Unix socket path holds at most 107 bytes and t.TempDir() paths are long.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "km")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// startShim starts a real shim monitor server for sandbox id under dir.
func startShim(t testing.TB, dir, id string, pprof bool, agentRSS int) *shimmonitor.Server {
	t.Helper()
	s, err := shimmonitor.Start(shimmonitor.Config{
		SandboxesDir: dir,
		EnablePprof:  pprof,
		Logger:       quietLogger(),
	}, &fakeSandbox{id: id, agentURL: "vsock://" + id + ":1024", agentMetrics: agentTextFor(agentRSS)})
	if err != nil {
		t.Fatalf("starting the shim monitor of %s: %v", id, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// startRawShim serves handler on sandbox id's monitor socket, standing in
// for a shim that misbehaves.
func startRawShim(t testing.TB, dir, id string, handler http.Handler) *http.Server {
	t.Helper()
	path := shimmonitor.SocketPath(dir, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: handler}
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })
	return server
}

type testMonitor struct {
	*Monitor
	url string
}

// startMonitor runs a Monitor on a loopback port until the test ends.
func startMonitor(t testing.TB, cfg Config) *testMonitor {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	if cfg.DirRetryInterval == 0 {
		cfg.DirRetryInterval = 20 * time.Millisecond
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &testMonitor{Monitor: m, url: "http://" + l.Addr().String()}
}

// waitForSandboxes waits until the monitor's sandboxes are want.
func (tm *testMonitor) waitForSandboxes(t testing.TB, want ...string) {
	t.Helper()
	wantText := strings.Join(want, ",")
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := strings.Join(tm.Sandboxes(), ",")
		if got == wantText {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandboxes: got [%s], want [%s] (waited 20s)", got, wantText)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (tm *testMonitor) get(t testing.TB, path string) (int, string) {
	t.Helper()
	return httpGet(t, tm.url+path, "")
}

func httpGet(t testing.TB, url, accept string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	// A generous client timeout only keeps a broken monitor from hanging
	// the test run; the monitor's own deadline is what is under test.
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// getMetrics fetches path and parses it back, which fails on invalid text
// such as a family with two TYPE lines.
func (tm *testMonitor) getMetrics(t testing.TB, path string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	status, body := tm.get(t, path)
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body:\n%s", path, status, body)
	}
	families, err := shimmonitor.ParseText(strings.NewReader(body))
	if err != nil {
		t.Fatalf("GET %s: invalid Prometheus text: %v", path, err)
	}
	return families, body
}

// sample returns the value of the single sample of family name whose labels
// include want.
func sample(t testing.TB, families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	t.Helper()
	var values []float64
	for _, m := range families[name].GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Gauge != nil:
			values = append(values, m.Gauge.GetValue())
		case m.Counter != nil:
			values = append(values, m.Counter.GetValue())
		case m.Untyped != nil:
			values = append(values, m.Untyped.GetValue())
		default:
			values = append(values, 0)
		}
	}
	if len(values) > 1 {
		t.Errorf("%s%v: got %d samples, want at most 1", name, want, len(values))
	}
	if len(values) == 0 {
		return 0, false
	}
	return values[0], true
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

// sandboxIDs returns the sandbox_id values found in families.
func sandboxIDs(families map[string]*dto.MetricFamily) map[string]bool {
	ids := make(map[string]bool)
	for _, mf := range families {
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == labelSandboxID {
					ids[l.GetValue()] = true
				}
			}
		}
	}
	return ids
}
