package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	dto "github.com/prometheus/client_model/go"
	"github.com/sirupsen/logrus"
)

// maxShimResponse bounds one shim's /metrics response, so a broken shim
// cannot exhaust kata-monitor's memory. A sandbox's metrics are in the
// order of 150 KiB.
const maxShimResponse = 16 << 20

// Labels kata-monitor adds to every sample of a sandbox, as upstream's does.
const (
	labelSandboxID    = "sandbox_id"
	labelCRIUID       = "cri_uid"
	labelCRIName      = "cri_name"
	labelCRINamespace = "cri_namespace"
)

// shimResult is the outcome of scraping one shim.
type shimResult struct {
	families map[string]*dto.MetricFamily
	err      error
}

// scrapeShims scrapes shims concurrently, at most MaxConcurrentScrapes at
// once, and returns their families merged and labelled. All scrapes share
// one deadline of timeout, so the call returns within about that time
// however many shims hang. A shim that fails leaves its metrics out and
// counts in kata_monitor_scrape_failed_count.
func (m *Monitor) scrapeShims(ctx context.Context, shims []*shim, timeout time.Duration) *shimmonitor.Families {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	results := make([]shimResult, len(shims))
	slots := make(chan struct{}, m.cfg.MaxConcurrentScrapes)
	var wg sync.WaitGroup
	for i, s := range shims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-ctx.Done():
				results[i].err = fmt.Errorf("waiting for a scrape slot: %w", ctx.Err())
				return
			}
			results[i] = m.scrapeShim(ctx, s)
		}()
	}
	wg.Wait()

	// Merging in sandbox order makes the choice of HELP text, when shims
	// disagree, the same on every scrape.
	merged := shimmonitor.NewFamilies()
	for i, s := range shims {
		if results[i].err != nil {
			m.metrics.scrapeFailures.Inc()
			s.errorLog.Do(func() {
				m.log.WithError(results[i].err).WithField("sandbox", s.id).
					Warn("scraping the shim failed; its metrics are missing (logged at most once a minute per sandbox)")
			})
			continue
		}
		m.addShimFamilies(merged, s, results[i].families)
	}
	return merged
}

// addShimFamilies labels the families of shim s and adds them to merged.
func (m *Monitor) addShimFamilies(merged *shimmonitor.Families, s *shim, families map[string]*dto.MetricFamily) {
	labels := []*dto.LabelPair{label(labelSandboxID, s.id)}
	if m.pods != nil {
		if pod, ok := m.pods.lookup(s.id); ok {
			labels = append(labels,
				label(labelCRIUID, pod.uid),
				label(labelCRIName, pod.name),
				label(labelCRINamespace, pod.namespace))
		}
	}

	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		mf := families[name]
		// The shim reports client_golang's runtime families unprefixed,
		// as upstream's does.
		shimmonitor.AddPrefix(mf, "kata_shim_", "go_", "process_")
		for _, metric := range mf.Metric {
			setLabels(metric, labels)
		}
		if err := merged.Add(mf); err != nil {
			s.errorLog.Do(func() {
				m.log.WithError(err).WithField("sandbox", s.id).
					Warn("metric family of this shim left out (logged at most once a minute per sandbox)")
			})
		}
	}
}

// scrapeShim fetches and parses one shim's /metrics.
func (m *Monitor) scrapeShim(ctx context.Context, s *shim) shimResult {
	body, err := m.shimGet(ctx, s, shimmonitor.MetricsPath)
	if err != nil {
		return shimResult{err: err}
	}
	defer func() { _ = body.Close() }()

	families, err := shimmonitor.ParseText(io.LimitReader(body, maxShimResponse))
	if err != nil {
		return shimResult{err: fmt.Errorf("shim %s /metrics: %w", s.socket, err)}
	}
	return shimResult{families: families}
}

// shimGet requests path from shim s and returns the body of a 200 response.
func (m *Monitor) shimGet(ctx context.Context, s *shim, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url(path), nil)
	if err != nil {
		return nil, fmt.Errorf("building the request for %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")

	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("shim %s %s: %w", s.socket, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_ = resp.Body.Close()
		return nil, fmt.Errorf("shim %s %s: %w: %s: %s", s.socket, path, errShimStatus, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp.Body, nil
}

// errShimStatus reports a shim response other than 200 OK.
var errShimStatus = errors.New("unexpected status")

func label(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// setLabels sets labels on metric, replacing labels of the same name, and
// keeps the labels sorted by name as client_golang does.
func setLabels(metric *dto.Metric, labels []*dto.LabelPair) {
	for _, l := range labels {
		replaced := false
		for i, existing := range metric.Label {
			if existing.GetName() == l.GetName() {
				metric.Label[i] = l
				replaced = true
				break
			}
		}
		if !replaced {
			metric.Label = append(metric.Label, l)
		}
	}
	sort.Slice(metric.Label, func(i, j int) bool { return metric.Label[i].GetName() < metric.Label[j].GetName() })
}

// logFields returns the fields that identify shim s in logs.
func (s *shim) logFields() logrus.Fields {
	return logrus.Fields{"sandbox": s.id, "socket": s.socket}
}

// scrapeTimeoutHeader carries the scrape timeout of the Prometheus server
// making the request, in seconds.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// scrapeTimeout returns the deadline for the shim scrapes of request r:
// Config.ScrapeTimeout, shortened to 90% of the timeout that Prometheus
// sends in X-Prometheus-Scrape-Timeout-Seconds, so the response reaches
// Prometheus before it gives up.
func (m *Monitor) scrapeTimeout(r *http.Request) time.Duration {
	timeout := m.cfg.ScrapeTimeout
	seconds, err := strconv.ParseFloat(r.Header.Get(scrapeTimeoutHeader), 64)
	if err != nil || seconds <= 0 {
		return timeout
	}
	if announced := time.Duration(seconds * 0.9 * float64(time.Second)); announced < timeout {
		return announced
	}
	return timeout
}
