// Package monitor is kata-monitor. It finds the Kata sandboxes of a host
// under the sandboxes directory (/run/vc/sbs) and scrapes each shim's monitor
// socket. It serves the merged metrics on one HTTP address for Prometheus,
// labelled by sandbox and, when the container manager serves CRI, by pod.
// Endpoints and flags follow upstream Kata's kata-monitor.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"
)

// Defaults of Config, which are also the defaults of kata-monitor's flags.
const (
	DefaultListenAddress   = "127.0.0.1:8090"
	DefaultRuntimeEndpoint = "/run/containerd/containerd.sock"
	DefaultSandboxesDir    = "/run/vc/sbs"
	// DefaultScrapeTimeout bounds the shim scrapes of one /metrics request.
	// It stays under Prometheus' default scrape_timeout of 10s.
	DefaultScrapeTimeout = 5 * time.Second
	// DefaultMaxConcurrentScrapes bounds the shims scraped at once.
	DefaultMaxConcurrentScrapes = 16
	// DefaultDirRetryInterval is how often a missing sandboxes directory is
	// looked for again. It exists only after the first sandbox starts.
	DefaultDirRetryInterval = 5 * time.Second
	// DefaultPodRefreshInterval is how often pod metadata is read from CRI
	// besides the refresh that each new sandbox triggers.
	DefaultPodRefreshInterval = time.Minute
)

// Config configures a Monitor. Zero values mean the defaults above, except
// RuntimeEndpoint, where empty turns pod metadata off.
type Config struct {
	// RuntimeEndpoint is the CRI socket of the container manager, as a
	// path or a unix:// URL.
	RuntimeEndpoint string
	// SandboxesDir contains one directory per sandbox with the shim's
	// monitor socket in it.
	SandboxesDir string
	// ScrapeTimeout bounds the shim scrapes of one /metrics request, and
	// each proxied /agent-url request.
	ScrapeTimeout time.Duration
	// MaxConcurrentScrapes bounds the shims scraped at once.
	MaxConcurrentScrapes int
	// DirRetryInterval is the wait between looks for a missing
	// SandboxesDir.
	DirRetryInterval time.Duration
	// PodRefreshInterval is the period of CRI pod metadata refreshes.
	PodRefreshInterval time.Duration
	// Logger receives the monitor's logs; nil means logrus' standard
	// logger with source kata-monitor.
	Logger *logrus.Entry
}

// Monitor is kata-monitor's state: the sandboxes found, their shims' clients,
// pod metadata and kata-monitor's own metrics.
type Monitor struct {
	cfg       Config
	log       *logrus.Entry
	sandboxes *sandboxSet
	// pods is nil when Config.RuntimeEndpoint is empty.
	pods    *podCache
	metrics *ownMetrics
}

// New returns a Monitor for cfg. It starts nothing; Run does.
func New(cfg Config) (*Monitor, error) {
	if cfg.SandboxesDir == "" {
		cfg.SandboxesDir = DefaultSandboxesDir
	}
	if cfg.ScrapeTimeout <= 0 {
		cfg.ScrapeTimeout = DefaultScrapeTimeout
	}
	if cfg.MaxConcurrentScrapes <= 0 {
		cfg.MaxConcurrentScrapes = DefaultMaxConcurrentScrapes
	}
	if cfg.DirRetryInterval <= 0 {
		cfg.DirRetryInterval = DefaultDirRetryInterval
	}
	if cfg.PodRefreshInterval <= 0 {
		cfg.PodRefreshInterval = DefaultPodRefreshInterval
	}
	log := cfg.Logger
	if log == nil {
		log = logrus.WithField("source", "kata-monitor")
	}

	metrics, err := newOwnMetrics()
	if err != nil {
		return nil, err
	}
	m := &Monitor{
		cfg:       cfg,
		log:       log,
		sandboxes: newSandboxSet(cfg.SandboxesDir),
		metrics:   metrics,
	}

	if cfg.RuntimeEndpoint != "" {
		m.pods, err = newPodCache(cfg.RuntimeEndpoint, log.WithField("subsystem", "cri"))
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Run watches the sandboxes directory, keeps pod metadata fresh and serves
// HTTP on l until ctx is done. It returns nil after ctx is done, or the
// error that stopped it.
func (m *Monitor) Run(ctx context.Context, l net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	done := make(chan error, 3)
	go func() { done <- m.watch(ctx) }()
	if m.pods != nil {
		go func() {
			m.pods.run(ctx, m.cfg.PodRefreshInterval)
			done <- nil
		}()
	}

	server := &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { done <- server.Serve(l) }()
	m.log.WithFields(logrus.Fields{
		"address":          l.Addr().String(),
		"sandboxes_dir":    m.cfg.SandboxesDir,
		"runtime_endpoint": m.cfg.RuntimeEndpoint,
	}).Info("kata-monitor started")

	var err error
	select {
	case <-ctx.Done():
	case err = <-done:
	}

	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if shutdownErr := server.Shutdown(shutdownCtx); shutdownErr != nil {
		_ = server.Close()
	}
	cancel()
	m.sandboxes.clear()
	if m.pods != nil {
		m.pods.close()
	}
	m.log.Info("kata-monitor stopped")

	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("kata-monitor: %w", err)
	}
	return nil
}

// Sandboxes returns the ids of the sandboxes whose shim socket was found,
// sorted.
func (m *Monitor) Sandboxes() []string {
	var ids []string
	for _, s := range m.sandboxes.shims() {
		ids = append(ids, s.id)
	}
	return ids
}
