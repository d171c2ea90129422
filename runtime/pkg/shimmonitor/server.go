package shimmonitor

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/procfs"
	"github.com/sirupsen/logrus"
)

// DefaultAgentMetricsTimeout bounds the agent's GetMetrics call in one
// scrape. It is below kata-monitor's default per-scrape timeout, so a hung
// agent still leaves time to return the shim's and hypervisor's metrics.
const DefaultAgentMetricsTimeout = 2 * time.Second

// Sandbox is the shim's sandbox as the monitor server reads it.
type Sandbox interface {
	// ID returns the sandbox id, the directory name under the sandboxes
	// directory.
	ID() string
	// HypervisorPIDs returns the hypervisor's processes (the VMM first, then
	// helpers such as virtiofsd). It is called on each scrape, so it must be
	// cheap and safe for concurrent use.
	HypervisorPIDs() []int
	// AgentURL returns the agent's address, for example vsock://3:1024.
	AgentURL() (string, error)
	// AgentMetrics returns the agent's GetMetrics text, in the Prometheus
	// text format. It must return when ctx is done.
	AgentMetrics(ctx context.Context) (string, error)
}

// Config configures a monitor server.
type Config struct {
	// SandboxesDir contains one directory per sandbox; the socket is
	// SandboxesDir/<id>/shim-monitor.sock. Production uses /run/vc/sbs.
	SandboxesDir string
	// EnablePprof serves /debug/pprof/ and /debug/vars, the enable_pprof
	// key of the [runtime] section.
	EnablePprof bool
	// AgentMetricsTimeout bounds the agent's GetMetrics call; zero means
	// DefaultAgentMetricsTimeout.
	AgentMetricsTimeout time.Duration
	// ProcRoot is the procfs mount point; empty means /proc.
	ProcRoot string
	// Logger receives the server's logs; nil means logrus' standard logger
	// with source containerd-kata-shim-v2.
	Logger *logrus.Entry

	// selfPID is the process reported as the shim; tests leave it at
	// os.Getpid() like production does.
	selfPID int
}

// Server is a running monitor server. Close stops it and removes its socket.
type Server struct {
	path     string
	socket   os.FileInfo
	listener *net.UnixListener
	http     *http.Server
	metrics  *metricsGatherer
	log      *logrus.Entry
	served   chan error

	closeOnce sync.Once
	closeErr  error
}

// Start listens on the sandbox's monitor socket and serves it until Close.
func Start(cfg Config, sb Sandbox) (_ *Server, err error) {
	id := sb.ID()
	if err := ValidateSandboxID(id); err != nil {
		return nil, err
	}
	if cfg.SandboxesDir == "" {
		return nil, errors.New("shim monitor: the sandboxes directory is not set: pass /run/vc/sbs or a test directory")
	}
	if cfg.AgentMetricsTimeout <= 0 {
		cfg.AgentMetricsTimeout = DefaultAgentMetricsTimeout
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = procfs.DefaultMountPoint
	}
	if cfg.selfPID == 0 {
		cfg.selfPID = os.Getpid()
	}
	log := cfg.Logger
	if log == nil {
		log = logrus.WithField("source", "containerd-kata-shim-v2")
	}
	log = log.WithFields(logrus.Fields{"subsystem": "shim-monitor", "sandbox": id})

	fs, err := procfs.NewFS(cfg.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("opening procfs at %s: %w", cfg.ProcRoot, err)
	}
	gatherer, err := newMetricsGatherer(cfg, sb, fs, log)
	if err != nil {
		return nil, err
	}

	path := SocketPath(cfg.SandboxesDir, id)
	listener, err := listenUnix(path)
	if err != nil {
		return nil, fmt.Errorf("shim monitor: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		_ = listener.Close()
		return nil, fmt.Errorf("shim monitor: checking the socket %s: %w", path, err)
	}

	s := &Server{
		path:     path,
		socket:   info,
		listener: listener,
		metrics:  gatherer,
		log:      log,
		served:   make(chan error, 1),
	}
	s.http = &http.Server{
		Handler:           s.routes(sb, cfg.EnablePprof),
		ReadHeaderTimeout: 10 * time.Second,
	}

	go func() {
		s.served <- s.http.Serve(listener)
	}()
	log.WithFields(logrus.Fields{"socket": path, "pprof": cfg.EnablePprof}).Info("shim monitor started")
	return s, nil
}

// SocketPath returns the path the server listens on.
func (s *Server) SocketPath() string {
	return s.path
}

// Registerer returns the registry behind /metrics, for the shim's own
// collectors (for example kata_shim_rpc_durations_histogram_milliseconds).
func (s *Server) Registerer() prometheus.Registerer {
	return s.metrics.registry
}

// Close stops the server, waiting up to five seconds for requests in flight,
// and removes the socket unless another server has replaced it since. Calls
// after the first return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var errs []error
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping the shim monitor: %w", err))
		_ = s.http.Close()
	}
	if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("shim monitor serving %s: %w", s.path, err))
	}

	if info, err := os.Stat(s.path); err == nil && os.SameFile(info, s.socket) {
		if err := os.Remove(s.path); err != nil {
			errs = append(errs, fmt.Errorf("removing the socket %s: %w", s.path, err))
		}
	}
	s.log.Info("shim monitor stopped")
	return errors.Join(errs...)
}

func (s *Server) routes(sb Sandbox, enablePprof bool) http.Handler {
	mux := http.NewServeMux()

	mux.HandleFunc(MetricsPath, func(w http.ResponseWriter, r *http.Request) {
		gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
			return s.metrics.gather(r.Context())
		})
		promhttp.HandlerFor(gather, promhttp.HandlerOpts{
			ErrorLog:      s.log.WithField("endpoint", MetricsPath),
			ErrorHandling: promhttp.ContinueOnError,
		}).ServeHTTP(w, r)
	})

	mux.HandleFunc(AgentURLPath, func(w http.ResponseWriter, r *http.Request) {
		url, err := sb.AgentURL()
		if err != nil {
			s.log.WithError(err).Warn("agent URL unavailable")
			http.Error(w, fmt.Sprintf("agent URL unavailable: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprint(w, url)
	})

	if enablePprof {
		mux.Handle(ExpvarPath, expvar.Handler())
		mux.HandleFunc(PprofPath, pprof.Index)
		mux.HandleFunc(PprofPath+"cmdline", pprof.Cmdline)
		mux.HandleFunc(PprofPath+"profile", pprof.Profile)
		mux.HandleFunc(PprofPath+"symbol", pprof.Symbol)
		mux.HandleFunc(PprofPath+"trace", pprof.Trace)
	}
	return mux
}
