package monitor

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
)

func TestMetricsAggregatesShims(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "sba", false, 1000)
	startShim(t, dir, "sbb", false, 2000)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "sba", "sbb")

	families, body := tm.getMetrics(t, "/metrics")

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"kata_agent_total_rss", map[string]string{"sandbox_id": "sba"}, 1000},
		{"kata_agent_total_rss", map[string]string{"sandbox_id": "sbb"}, 2000},
		{"kata_guest_load", map[string]string{"sandbox_id": "sba", "item": "load5"}, 0.25},
		{"kata_monitor_running_shim_count", nil, 2},
		{"kata_monitor_scrape_count", nil, 1},
		{"kata_monitor_scrape_failed_count", nil, 0},
	}
	for _, tt := range tests {
		got, ok := sample(t, families, tt.name, tt.labels)
		if !ok {
			t.Errorf("%s%v: missing", tt.name, tt.labels)
			continue
		}
		if got != tt.want {
			t.Errorf("%s%v: got %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}

	for _, name := range []string{"kata_shim_threads", "kata_shim_go_goroutines", "kata_shim_process_cpu_seconds_total", "kata_hypervisor_threads"} {
		for _, id := range []string{"sba", "sbb"} {
			if _, ok := sample(t, families, name, map[string]string{"sandbox_id": id}); !ok {
				t.Errorf("%s{sandbox_id=%q}: missing", name, id)
			}
		}
	}
	for _, name := range []string{"kata_monitor_go_goroutines", "kata_monitor_process_open_fds", "kata_monitor_scrape_durations_histogram_milliseconds"} {
		if _, ok := families[name]; !ok {
			t.Errorf("kata-monitor's own %s: missing", name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := families[name]; ok {
			t.Errorf("unprefixed family %s: present, want it renamed", name)
		}
	}

	// Two shims report the family, one TYPE line carries it.
	if got := strings.Count(body, "# TYPE kata_shim_threads "); got != 1 {
		t.Errorf("TYPE lines for kata_shim_threads: got %d, want 1", got)
	}
	if got := len(families["kata_shim_threads"].GetMetric()); got != 2 {
		t.Errorf("kata_shim_threads samples: got %d, want 2", got)
	}
}

func TestMetricsSandboxQuery(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "sba", false, 1000)
	startShim(t, dir, "sbb", false, 2000)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "sba", "sbb")

	families, _ := tm.getMetrics(t, "/metrics?sandbox=sbb")
	ids := sandboxIDs(families)
	if len(ids) != 1 || !ids["sbb"] {
		t.Errorf("sandbox_id values with ?sandbox=sbb: got %v, want only sbb", ids)
	}
	if v, ok := sample(t, families, "kata_agent_total_rss", nil); !ok || v != 2000 {
		t.Errorf("kata_agent_total_rss with ?sandbox=sbb: got %v (present %v), want 2000", v, ok)
	}
	if _, ok := families["kata_monitor_scrape_count"]; ok {
		t.Errorf("kata_monitor_scrape_count with ?sandbox=sbb: present, want only the sandbox's metrics")
	}

	if status, _ := tm.get(t, "/metrics?sandbox=nosuch"); status != http.StatusNotFound {
		t.Errorf("/metrics?sandbox=nosuch: got status %d, want 404", status)
	}
}

func TestMetricsFilterFamily(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "sba", false, 1000)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "sba")

	families, _ := tm.getMetrics(t, "/metrics?filter_family=kata_agent,kata_guest")
	for name := range families {
		sandboxFamily := !strings.HasPrefix(name, "kata_monitor_")
		if sandboxFamily && !strings.HasPrefix(name, "kata_agent") && !strings.HasPrefix(name, "kata_guest") {
			t.Errorf("family %s: present, want it filtered out", name)
		}
	}
	for _, name := range []string{"kata_agent_total_rss", "kata_guest_load", "kata_monitor_scrape_count"} {
		if _, ok := families[name]; !ok {
			t.Errorf("family %s: missing", name)
		}
	}
}

func TestMetricsHungShim(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "good", false, 1000)

	release := make(chan struct{})
	startRawShim(t, dir, "hung", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })

	tm := startMonitor(t, Config{SandboxesDir: dir, ScrapeTimeout: 300 * time.Millisecond})
	tm.waitForSandboxes(t, "good", "hung")

	families, _ := tm.getMetrics(t, "/metrics")
	if v, ok := sample(t, families, "kata_agent_total_rss", map[string]string{"sandbox_id": "good"}); !ok || v != 1000 {
		t.Errorf("the healthy shim's kata_agent_total_rss: got %v (present %v), want 1000", v, ok)
	}
	if ids := sandboxIDs(families); ids["hung"] {
		t.Errorf("samples of the hung shim: present, want none")
	}
	if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 1 {
		t.Errorf("kata_monitor_scrape_failed_count: got %v, want 1", v)
	}
	if v, _ := sample(t, families, "kata_monitor_running_shim_count", nil); v != 2 {
		t.Errorf("kata_monitor_running_shim_count: got %v, want 2", v)
	}
}

func TestMetricsShimGoneMidScrape(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "good", false, 1000)

	var server *http.Server
	server = startRawShim(t, dir, "dying", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Half a response, then the shim is gone: its socket removed and
		// the connection cut.
		_, _ = w.Write([]byte("# HELP kata_shim_threads threads\n# TYPE kata_shim_threads gauge\nkata_shim_thr"))
		w.(http.Flusher).Flush()
		_ = os.Remove(shimmonitor.SocketPath(dir, "dying"))
		go func() { _ = server.Close() }()
		panic(http.ErrAbortHandler)
	}))

	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "dying", "good")

	families, _ := tm.getMetrics(t, "/metrics")
	if v, ok := sample(t, families, "kata_agent_total_rss", map[string]string{"sandbox_id": "good"}); !ok || v != 1000 {
		t.Errorf("the healthy shim's kata_agent_total_rss: got %v (present %v), want 1000", v, ok)
	}
	if ids := sandboxIDs(families); ids["dying"] {
		t.Errorf("samples of the shim that died mid-scrape: present, want none")
	}
	if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 1 {
		t.Errorf("kata_monitor_scrape_failed_count: got %v, want 1", v)
	}

	// The socket's removal is seen, and the next scrape no longer tries it.
	tm.waitForSandboxes(t, "good")
}

func TestMetricsDeadShimSocket(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "good", false, 1000)

	// A socket file whose shim exited without removing it.
	path := shimmonitor.SocketPath(dir, "dead")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	_ = l.Close()

	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "dead", "good")

	families, _ := tm.getMetrics(t, "/metrics")
	if _, ok := sample(t, families, "kata_agent_total_rss", map[string]string{"sandbox_id": "good"}); !ok {
		t.Errorf("the healthy shim's kata_agent_total_rss: missing")
	}
	if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 1 {
		t.Errorf("kata_monitor_scrape_failed_count: got %v, want 1", v)
	}
}

func TestSandboxWithoutSocketSkipped(t *testing.T) {
	dir := shortTempDir(t)
	if err := os.Mkdir(filepath.Join(dir, "nosock"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nosock", "persist.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	startShim(t, dir, "good", false, 1000)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "good")

	if _, body := tm.get(t, "/sandboxes"); body != "good\n" {
		t.Errorf("/sandboxes: got %q, want %q", body, "good\n")
	}
	families, _ := tm.getMetrics(t, "/metrics")
	if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 0 {
		t.Errorf("kata_monitor_scrape_failed_count: got %v, want 0 (a directory without a socket is not scraped)", v)
	}

	// The socket appears later, as when the shim starts its server after
	// creating the sandbox directory.
	startShim(t, dir, "nosock", false, 3000)
	tm.waitForSandboxes(t, "good", "nosock")
	families, _ = tm.getMetrics(t, "/metrics")
	if v, ok := sample(t, families, "kata_agent_total_rss", map[string]string{"sandbox_id": "nosock"}); !ok || v != 3000 {
		t.Errorf("kata_agent_total_rss of the late socket: got %v (present %v), want 3000", v, ok)
	}
}

func TestSandboxRemovalSeen(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "keep", false, 1000)
	gone := startShim(t, dir, "gone", false, 2000)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "gone", "keep")

	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "gone")); err != nil {
		t.Fatal(err)
	}
	tm.waitForSandboxes(t, "keep")

	if _, body := tm.get(t, "/sandboxes"); body != "keep\n" {
		t.Errorf("/sandboxes after removal: got %q, want %q", body, "keep\n")
	}
	families, _ := tm.getMetrics(t, "/metrics")
	if ids := sandboxIDs(families); len(ids) != 1 || !ids["keep"] {
		t.Errorf("sandbox_id values after removal: got %v, want only keep", ids)
	}
	if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 0 {
		t.Errorf("kata_monitor_scrape_failed_count after removal: got %v, want 0", v)
	}
}

func TestSandboxesDirAppearsLater(t *testing.T) {
	parent := shortTempDir(t)
	dir := filepath.Join(parent, "sbs")
	tm := startMonitor(t, Config{SandboxesDir: dir})

	if _, body := tm.get(t, "/sandboxes"); body != "" {
		t.Errorf("/sandboxes without the directory: got %q, want empty", body)
	}
	tm.getMetrics(t, "/metrics")

	startShim(t, dir, "first", false, 1000)
	tm.waitForSandboxes(t, "first")

	// The whole directory goes, then comes back with another sandbox.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	tm.waitForSandboxes(t)
	startShim(t, dir, "second", false, 2000)
	tm.waitForSandboxes(t, "second")
}

func TestSandboxesEndpoint(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "sbb", false, 1)
	startShim(t, dir, "sba", false, 1)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "sba", "sbb")

	if _, body := tm.get(t, "/sandboxes"); body != "sba\nsbb\n" {
		t.Errorf("/sandboxes: got %q, want %q", body, "sba\nsbb\n")
	}
	_, html := httpGet(t, tm.url+"/sandboxes", "text/html")
	if !strings.Contains(html, `href="/metrics?sandbox=sba"`) {
		t.Errorf("/sandboxes as HTML: no link to sba's metrics in\n%s", html)
	}

	status, index := tm.get(t, "/")
	if status != http.StatusOK {
		t.Errorf("index page: got status %d, want 200", status)
	}
	for _, e := range endpoints {
		if !strings.Contains(index, e.Path) {
			t.Errorf("index page: %s missing", e.Path)
		}
	}
	if status, _ := tm.get(t, "/nosuch"); status != http.StatusNotFound {
		t.Errorf("/nosuch: got status %d, want 404", status)
	}
}

func TestAgentURLProxy(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "sba", false, 1)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "sba")

	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/agent-url?sandbox=sba", http.StatusOK, "vsock://sba:1024\n"},
		{"/agent-url", http.StatusBadRequest, ""},
		{"/agent-url?sandbox=nosuch", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		status, body := tm.get(t, tt.path)
		if status != tt.wantStatus {
			t.Errorf("GET %s: got status %d, want %d", tt.path, status, tt.wantStatus)
		}
		if tt.wantBody != "" && body != tt.wantBody {
			t.Errorf("GET %s: got body %q, want %q", tt.path, body, tt.wantBody)
		}
	}
}

func TestDebugProxy(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "pprof", true, 1)
	startShim(t, dir, "plain", false, 1)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "plain", "pprof")

	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/debug/pprof/?sandbox=pprof", http.StatusOK, "goroutine"},
		{"/debug/pprof/goroutine?debug=1&sandbox=pprof", http.StatusOK, "goroutine profile:"},
		{"/debug/vars?sandbox=pprof", http.StatusOK, `"memstats"`},
		{"/debug/pprof/?sandbox=plain", http.StatusNotFound, ""},
		{"/debug/vars?sandbox=plain", http.StatusNotFound, ""},
		{"/debug/pprof/", http.StatusBadRequest, ""},
		{"/debug/pprof/?sandbox=nosuch", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		status, body := tm.get(t, tt.path)
		if status != tt.wantStatus {
			t.Errorf("GET %s: got status %d, want %d", tt.path, status, tt.wantStatus)
		}
		if !strings.Contains(body, tt.wantBody) {
			t.Errorf("GET %s: body does not contain %q:\n%.300s", tt.path, tt.wantBody, body)
		}
	}
}

func TestShimLabelReplaced(t *testing.T) {
	dir := shortTempDir(t)
	startRawShim(t, dir, "sba", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("# TYPE kata_agent_x gauge\nkata_agent_x{sandbox_id=\"spoofed\",item=\"a\"} 1\n"))
	}))
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "sba")

	families, _ := tm.getMetrics(t, "/metrics")
	metrics := families["kata_agent_x"].GetMetric()
	if len(metrics) != 1 {
		t.Fatalf("kata_agent_x samples: got %d, want 1", len(metrics))
	}
	var names []string
	for _, l := range metrics[0].Label {
		names = append(names, l.GetName()+"="+l.GetValue())
	}
	if got, want := strings.Join(names, ","), "item=a,sandbox_id=sba"; got != want {
		t.Errorf("kata_agent_x labels: got %s, want %s", got, want)
	}
}

func TestUnixSocketPath(t *testing.T) {
	tests := []struct {
		endpoint string
		want     string
		wantErr  bool
	}{
		{"/run/containerd/containerd.sock", "/run/containerd/containerd.sock", false},
		{"unix:///run/crio/crio.sock", "/run/crio/crio.sock", false},
		{"tcp://127.0.0.1:1234", "", true},
		{"containerd.sock", "", true},
		{"unix://", "", true},
	}
	for _, tt := range tests {
		got, err := unixSocketPath(tt.endpoint)
		if (err != nil) != tt.wantErr {
			t.Errorf("unixSocketPath(%q): got error %v, want error %v", tt.endpoint, err, tt.wantErr)
		}
		if got != tt.want {
			t.Errorf("unixSocketPath(%q): got %q, want %q", tt.endpoint, got, tt.want)
		}
	}
}

func TestMetricsPrometheusTimeoutHeader(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "good", false, 1000)
	release := make(chan struct{})
	startRawShim(t, dir, "hung", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })

	// The monitor's own limit is far beyond the test's client timeout, so
	// only the header can end the hung scrape.
	tm := startMonitor(t, Config{SandboxesDir: dir, ScrapeTimeout: time.Hour})
	tm.waitForSandboxes(t, "good", "hung")

	req, err := http.NewRequest(http.MethodGet, tm.url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(scrapeTimeoutHeader, "0.5")
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET /metrics with %s: %v", scrapeTimeoutHeader, err)
	}
	defer func() { _ = resp.Body.Close() }()
	families, err := shimmonitor.ParseText(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: invalid Prometheus text: %v", err)
	}
	if _, ok := sample(t, families, "kata_agent_total_rss", map[string]string{"sandbox_id": "good"}); !ok {
		t.Errorf("the healthy shim's kata_agent_total_rss: missing")
	}
	if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 1 {
		t.Errorf("kata_monitor_scrape_failed_count: got %v, want 1", v)
	}
}

func TestScrapeTimeout(t *testing.T) {
	m := &Monitor{cfg: Config{ScrapeTimeout: 5 * time.Second}}
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", 5 * time.Second},
		{"10", 5 * time.Second},
		{"2", 1800 * time.Millisecond},
		{"0", 5 * time.Second},
		{"-1", 5 * time.Second},
		{"soon", 5 * time.Second},
	}
	for _, tt := range tests {
		r, err := http.NewRequest(http.MethodGet, "/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.header != "" {
			r.Header.Set(scrapeTimeoutHeader, tt.header)
		}
		if got := m.scrapeTimeout(r); got != tt.want {
			t.Errorf("scrapeTimeout with %s %q: got %v, want %v", scrapeTimeoutHeader, tt.header, got, tt.want)
		}
	}
}

func TestDebugProxyReferer(t *testing.T) {
	dir := shortTempDir(t)
	startShim(t, dir, "pprof", true, 1)
	tm := startMonitor(t, Config{SandboxesDir: dir})
	tm.waitForSandboxes(t, "pprof")

	tests := []struct {
		name       string
		referer    string
		wantStatus int
	}{
		{"index page", tm.url + "/debug/pprof/?sandbox=pprof", http.StatusOK},
		{"other sandbox page", tm.url + "/debug/pprof/?sandbox=nosuch", http.StatusNotFound},
		{"not a debug page", tm.url + "/sandboxes?sandbox=pprof", http.StatusBadRequest},
		{"other host", "http://example.com/debug/pprof/?sandbox=pprof", http.StatusBadRequest},
		{"none", "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, tm.url+"/debug/pprof/goroutine?debug=1", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.referer != "" {
				req.Header.Set("Referer", tt.referer)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}
