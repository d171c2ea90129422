// Command kata-monitor serves the metrics of every Kata sandbox of the host
// to Prometheus, and proxies each shim's agent URL and profiling endpoints.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/monitor"
	"github.com/sirupsen/logrus"
)

// Stamped by the Makefile through -ldflags.
var (
	version = "0.0.0-dev"
	commit  = "unknown"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	flags := flag.NewFlagSet("kata-monitor", flag.ContinueOnError)
	flags.SetOutput(stderr)
	listenAddress := flags.String("listen-address", monitor.DefaultListenAddress,
		"TCP address (IP:port) to serve the metrics and other endpoints on")
	runtimeEndpoint := flags.String("runtime-endpoint", monitor.DefaultRuntimeEndpoint,
		"CRI socket of the container manager, for pod names and namespaces; empty turns pod labels off")
	logLevel := flags.String("log-level", "info",
		"log level: trace, debug, info, warn, error, fatal or panic")
	sandboxesDir := flags.String("sandboxes-dir", monitor.DefaultSandboxesDir,
		"directory with one subdirectory per sandbox holding the shim's monitor socket")
	scrapeTimeout := flags.Duration("scrape-timeout", monitor.DefaultScrapeTimeout,
		"maximum time to scrape the shims for one /metrics request")
	showVersion := flags.Bool("version", false, "print the version and exit")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "kata-monitor: unexpected argument %q: it takes only flags, see -help\n", flags.Arg(0))
		return 2
	}
	if *showVersion {
		fmt.Printf("kata-monitor  : %s\n   commit     : %s\n", version, commit)
		return 0
	}

	level, err := logrus.ParseLevel(*logLevel)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "kata-monitor: invalid -log-level %q: use trace, debug, info, warn, error, fatal or panic\n", *logLevel)
		return 2
	}
	logger := logrus.New()
	logger.SetOutput(stderr)
	logger.SetLevel(level)
	log := logger.WithField("source", "kata-monitor")

	m, err := monitor.New(monitor.Config{
		RuntimeEndpoint: *runtimeEndpoint,
		SandboxesDir:    *sandboxesDir,
		ScrapeTimeout:   *scrapeTimeout,
		Logger:          log,
	})
	if err != nil {
		log.WithError(err).Error("invalid configuration")
		return 2
	}

	listener, err := net.Listen("tcp", *listenAddress)
	if err != nil {
		log.WithError(err).WithField("address", *listenAddress).Error("cannot listen: choose a free address with -listen-address")
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx, listener); err != nil {
		log.WithError(err).Error("kata-monitor failed")
		return 1
	}
	return 0
}
