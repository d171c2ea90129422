package monitor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// ownMetrics are kata-monitor's own metrics, under upstream kata-monitor's
// names with the kata_monitor_ prefix.
type ownMetrics struct {
	registry *prometheus.Registry

	runningShims prometheus.Gauge
	scrapes      prometheus.Counter
	// scrapeFailures counts shim scrapes that timed out, were refused, or
	// returned an error status or invalid text.
	scrapeFailures  prometheus.Counter
	scrapeDurations prometheus.Histogram
}

func newOwnMetrics() (*ownMetrics, error) {
	const namespace = "kata_monitor"
	m := &ownMetrics{
		registry: prometheus.NewRegistry(),
		runningShims: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "running_shim_count",
			Help:      "Running shims, one per sandbox, found at the last scrape.",
		}),
		scrapes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "scrape_count",
			Help:      "Requests to /metrics.",
		}),
		scrapeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "scrape_failed_count",
			Help:      "Shim scrapes that failed or timed out; their metrics are missing from that response.",
		}),
		scrapeDurations: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "scrape_durations_histogram_milliseconds",
			Help:      "Time to scrape the shims for one /metrics request, in milliseconds.",
			Buckets:   prometheus.ExponentialBuckets(1, 2, 14),
		}),
	}

	// Upstream kata-monitor reports its Go runtime and process metrics as
	// kata_monitor_go_* and kata_monitor_process_*.
	prefixed := prometheus.WrapRegistererWithPrefix(namespace+"_", m.registry)
	for _, c := range []struct {
		registerer prometheus.Registerer
		collector  prometheus.Collector
	}{
		{m.registry, m.runningShims},
		{m.registry, m.scrapes},
		{m.registry, m.scrapeFailures},
		{m.registry, m.scrapeDurations},
		{prefixed, collectors.NewGoCollector()},
		{prefixed, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})},
	} {
		if err := c.registerer.Register(c.collector); err != nil {
			return nil, fmt.Errorf("registering kata-monitor's metrics: %w", err)
		}
	}
	return m, nil
}
