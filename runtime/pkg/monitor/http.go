package monitor

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Query parameters of kata-monitor's endpoints, as upstream names them.
const (
	querySandbox      = "sandbox"
	queryFilterFamily = "filter_family"
)

// endpoint is one entry of the index page.
type endpoint struct {
	Path, Description string
}

var endpoints = []endpoint{
	{"/metrics", "metrics of kata-monitor and of every sandbox; ?sandbox=ID selects one, ?filter_family=A,B keeps sandbox families whose names start with A or B"},
	{"/sandboxes", "ids of the running sandboxes, one per line"},
	{"/agent-url?sandbox=ID", "agent URL of a sandbox"},
	{"/debug/vars?sandbox=ID", "expvar data of a sandbox's shim, when its enable_pprof is set"},
	{"/debug/pprof/?sandbox=ID", "Go profiles of a sandbox's shim, when its enable_pprof is set"},
}

// Handler returns kata-monitor's HTTP endpoints.
func (m *Monitor) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", m.serveIndex)
	mux.HandleFunc("/metrics", m.serveMetrics)
	mux.HandleFunc("/sandboxes", m.serveSandboxes)
	mux.HandleFunc("/agent-url", m.serveAgentURL)
	mux.HandleFunc(shimmonitor.ExpvarPath, m.proxyDebug)
	mux.HandleFunc(shimmonitor.PprofPath, m.proxyDebug)
	return mux
}

var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html><head><title>kata-monitor</title></head><body>
<h1>kata-monitor</h1>
<ul>
{{range .}}<li><a href="{{.Path}}">{{.Path}}</a>: {{.Description}}</li>
{{end}}</ul>
</body></html>
`))

func (m *Monitor) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := indexPage.Execute(w, endpoints); err != nil {
		m.log.WithError(err).Debug("writing the index page")
	}
}

// serveMetrics merges kata-monitor's own metrics with every sandbox's, or
// returns only the sandbox that ?sandbox= names.
func (m *Monitor) serveMetrics(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	m.metrics.scrapes.Inc()

	query := r.URL.Query()
	shims := m.sandboxes.shims()
	m.metrics.runningShims.Set(float64(len(shims)))

	id := query.Get(querySandbox)
	if id != "" {
		s, ok := m.sandboxes.shim(id)
		if !ok {
			http.Error(w, fmt.Sprintf("sandbox %q not found: /sandboxes lists the running sandboxes", id), http.StatusNotFound)
			return
		}
		shims = []*shim{s}
	}
	var prefixes []string
	if f := query.Get(queryFilterFamily); f != "" {
		prefixes = strings.Split(f, ",")
	}

	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		sandboxFamilies := m.scrapeShims(r.Context(), shims, m.scrapeTimeout(r))
		m.metrics.scrapeDurations.Observe(float64(time.Since(start).Microseconds()) / 1000)

		var out []*dto.MetricFamily
		if id == "" {
			own, err := m.metrics.registry.Gather()
			if err != nil {
				m.log.WithError(err).Warn("gathering kata-monitor's own metrics failed in part")
			}
			out = append(out, own...)
		}
		for _, mf := range sandboxFamilies.Sorted() {
			if matchesPrefix(mf.GetName(), prefixes) {
				out = append(out, mf)
			}
		}
		return out, nil
	})
	promhttp.HandlerFor(gather, promhttp.HandlerOpts{
		ErrorLog:      m.log.WithField("endpoint", "/metrics"),
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

func matchesPrefix(name string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if p = strings.TrimSpace(p); p != "" && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var sandboxesPage = template.Must(template.New("sandboxes").Parse(`<!DOCTYPE html>
<html><head><title>kata-monitor: sandboxes</title></head><body>
<h1>Sandboxes</h1>
<ul>
{{range .}}<li>{{.}}: <a href="/metrics?sandbox={{.}}">metrics</a>, <a href="/agent-url?sandbox={{.}}">agent-url</a>, <a href="/debug/vars?sandbox={{.}}">debug/vars</a>, <a href="/debug/pprof/?sandbox={{.}}">debug/pprof</a></li>
{{end}}</ul>
</body></html>
`))

// serveSandboxes lists the sandbox ids one per line, or as an HTML page with
// links to each sandbox's endpoints for a browser.
func (m *Monitor) serveSandboxes(w http.ResponseWriter, r *http.Request) {
	ids := m.Sandboxes()
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := sandboxesPage.Execute(w, ids); err != nil {
			m.log.WithError(err).Debug("writing the sandboxes page")
		}
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, id := range ids {
		_, _ = fmt.Fprintln(w, id)
	}
}

// requestedShim returns the shim that ?sandbox= names, or writes the error
// response and returns false.
func (m *Monitor) requestedShim(w http.ResponseWriter, r *http.Request) (*shim, bool) {
	return m.shimFor(w, r, r.URL.Query().Get(querySandbox))
}

func (m *Monitor) shimFor(w http.ResponseWriter, r *http.Request, id string) (*shim, bool) {
	if id == "" {
		http.Error(w, "missing the sandbox query parameter: add ?sandbox=ID, with an id from /sandboxes", http.StatusBadRequest)
		return nil, false
	}
	s, ok := m.sandboxes.shim(id)
	if !ok {
		http.Error(w, fmt.Sprintf("sandbox %q not found: /sandboxes lists the running sandboxes", id), http.StatusNotFound)
		return nil, false
	}
	return s, true
}

func (m *Monitor) serveAgentURL(w http.ResponseWriter, r *http.Request) {
	s, ok := m.requestedShim(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), m.cfg.ScrapeTimeout)
	defer cancel()

	body, err := m.shimGet(ctx, s, shimmonitor.AgentURLPath)
	if err != nil {
		m.log.WithError(err).WithFields(s.logFields()).Warn("agent URL request to the shim failed")
		http.Error(w, fmt.Sprintf("agent URL of sandbox %s: %v", s.id, err), http.StatusBadGateway)
		return
	}
	defer func() { _ = body.Close() }()
	agentURL, err := io.ReadAll(io.LimitReader(body, 4096))
	if err != nil {
		m.log.WithError(err).WithFields(s.logFields()).Warn("reading the agent URL from the shim failed")
		http.Error(w, fmt.Sprintf("agent URL of sandbox %s: %v", s.id, err), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintln(w, strings.TrimSpace(string(agentURL)))
}

// proxyDebug forwards /debug/vars and /debug/pprof/* to the shim that
// ?sandbox= names, without the sandbox parameter. It has no deadline of its
// own, because /debug/pprof/profile and /trace run for their seconds
// parameter.
//
// The links of the shim's /debug/pprof/ index page are relative and lose
// ?sandbox=, so a debug request without it takes the sandbox from the
// Referer, the page the link was on.
func (m *Monitor) proxyDebug(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get(querySandbox)
	if id == "" {
		id = refererSandbox(r)
	}
	s, ok := m.shimFor(w, r, id)
	if !ok {
		return
	}
	query := r.URL.Query()
	query.Del(querySandbox)

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "shim"
			pr.Out.Host = "shim"
			pr.Out.URL.RawQuery = query.Encode()
		},
		Transport: s.transport,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			m.log.WithError(err).WithFields(s.logFields()).Warn("debug request to the shim failed")
			http.Error(w, fmt.Sprintf("sandbox %s: %v", s.id, err), http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, r)
}

// refererSandbox returns the sandbox parameter of r's Referer when the
// Referer is one of kata-monitor's debug pages.
func refererSandbox(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || !strings.HasPrefix(ref.Path, "/debug/") {
		return ""
	}
	return ref.Query().Get(querySandbox)
}
