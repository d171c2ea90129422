package shimmonitor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/procfs"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"
)

// Reasons for a failed agent metrics request, the values of the "reason"
// label of kata_shim_agent_metrics_errors_total.
const (
	agentErrTimeout = "timeout"
	agentErrFailed  = "failed"
	agentErrInvalid = "invalid"
)

// metricsGatherer builds the /metrics response: the shim's registry plus the
// agent's metrics, fetched on each request.
type metricsGatherer struct {
	sandbox      Sandbox
	registry     *prometheus.Registry
	agentTimeout time.Duration
	log          *logrus.Entry

	agentErrors      *prometheus.CounterVec
	agentErrorsTotal atomic.Uint64
	// agentErrorLog lets one agent error a minute through to the log, so a
	// dead agent scraped every few seconds does not flood it.
	agentErrorLog rate.Sometimes
}

func newMetricsGatherer(cfg Config, sb Sandbox, fs procfs.FS, log *logrus.Entry) (*metricsGatherer, error) {
	g := &metricsGatherer{
		sandbox:       sb,
		registry:      prometheus.NewRegistry(),
		agentTimeout:  cfg.AgentMetricsTimeout,
		log:           log,
		agentErrorLog: rate.Sometimes{First: 1, Interval: time.Minute},
		agentErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "kata_shim",
			Name:      "agent_metrics_errors_total",
			Help:      "Agent GetMetrics requests that timed out, failed or returned invalid text.",
		}, []string{"reason"}),
	}
	for _, reason := range []string{agentErrTimeout, agentErrFailed, agentErrInvalid} {
		g.agentErrors.WithLabelValues(reason)
	}

	self := []int{cfg.selfPID}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{
			PidFn: func() (int, error) { return cfg.selfPID, nil },
		}),
		newProcCollector(fs, "kata_shim", "Kata containerd shim v2 process", false, func() []int { return self }),
		newProcCollector(fs, "kata_hypervisor", "Hypervisor process", true, sb.HypervisorPIDs),
		g.agentErrors,
	} {
		if err := g.registry.Register(c); err != nil {
			return nil, fmt.Errorf("registering the shim's metrics: %w", err)
		}
	}
	return g, nil
}

// gather returns the shim's families and the agent's, merged and sorted. An
// agent that fails, hangs or returns invalid text leaves its families out.
// The error is counted and logged at most once a minute but not returned, so
// the scrape still succeeds with the rest.
func (g *metricsGatherer) gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	// The agent goes first so that this response's error counter already
	// includes its failure.
	agent, err := g.agentFamilies(ctx)
	if err != nil {
		g.countAgentError(err)
	}

	own, err := g.registry.Gather()
	if err != nil {
		// A registry error leaves out only the families concerned; log it
		// and serve what was gathered.
		g.log.WithError(err).Warn("gathering the shim's metrics failed in part")
	}

	families := NewFamilies()
	for _, mf := range own {
		// Registry families are consistent with each other by construction.
		_ = families.Add(mf)
	}
	// An agent family may not add samples to one of the shim's families:
	// without labels of their own they would repeat the shim's series.
	ownNames := make(map[string]bool, len(own))
	for _, mf := range own {
		ownNames[mf.GetName()] = true
	}
	for _, mf := range agent {
		if ownNames[mf.GetName()] {
			g.countAgentError(fmt.Errorf("%w: family %s is the shim's own", errAgentInvalid, mf.GetName()))
			continue
		}
		if err := families.Add(mf); err != nil {
			g.countAgentError(fmt.Errorf("%w: %w", errAgentInvalid, err))
		}
	}
	return families.Sorted(), nil
}

// agentFamilies fetches and parses the agent's metrics, renaming the agent's
// go_* and process_* families to kata_agent_*.
func (g *metricsGatherer) agentFamilies(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	text, err := g.agentMetrics(ctx)
	if err != nil {
		return nil, err
	}
	parsed, err := ParseText(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errAgentInvalid, err)
	}
	for _, mf := range parsed {
		AddPrefix(mf, "kata_agent_", "go_", "process_")
	}
	return parsed, nil
}

var errAgentInvalid = errors.New("invalid agent metrics")

// agentMetrics calls the agent with a deadline. The call runs in its own
// goroutine, so a Sandbox implementation that ignores its context delays only
// that goroutine, never the scrape.
func (g *metricsGatherer) agentMetrics(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, g.agentTimeout)
	defer cancel()

	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		text, err := g.sandbox.AgentMetrics(ctx)
		done <- result{text, err}
	}()

	select {
	case r := <-done:
		if r.err != nil {
			return "", fmt.Errorf("agent GetMetrics: %w", r.err)
		}
		return r.text, nil
	case <-ctx.Done():
		return "", fmt.Errorf("agent GetMetrics after %s: %w", g.agentTimeout, ctx.Err())
	}
}

func (g *metricsGatherer) countAgentError(err error) {
	reason := agentErrFailed
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = agentErrTimeout
	case errors.Is(err, errAgentInvalid):
		reason = agentErrInvalid
	}
	g.agentErrors.WithLabelValues(reason).Inc()
	total := g.agentErrorsTotal.Add(1)

	g.agentErrorLog.Do(func() {
		g.log.WithError(err).WithFields(logrus.Fields{
			"reason":       reason,
			"errors_total": total,
		}).Warn("agent metrics left out of /metrics; logging at most one such error a minute")
	})
}
