package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/check"
)

func init() {
	register(&command{
		name:    "check",
		aliases: []string{"kata-check"},
		usage:   "test whether this host can run Kata Containers on riscv64",
		run:     runCheck,
	})
}

func runCheck(g globalOptions, args []string) int {
	return runCheckTo(os.Stdout, os.Stderr, g, args)
}

// runCheckTo runs the check subcommand with its report on stdout and usage
// errors on stderr, and returns the exit code.
func runCheckTo(stdout, stderr io.Writer, g globalOptions, args []string) int {
	fs := flag.NewFlagSet("kata-runtime check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("verbose", false, "list every check with its result and details")
	fs.BoolVar(verbose, "v", false, "short for --verbose")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	loadModules := fs.Bool("load-modules", false, "run modprobe for missing kernel modules (kvm, vhost, vhost_net, vhost_vsock)")
	// Upstream's flags that scripts pass: accepted and ignored, because
	// this runtime makes no network checks and has no strict mode.
	var ignored bool
	for _, name := range []string{"no-network-checks", "n", "strict", "s"} {
		fs.BoolVar(&ignored, name, false, "accepted for compatibility with upstream Kata; has no effect")
	}
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: kata-runtime [--config FILE] check [--verbose] [--json] [--load-modules]\n\n"+
			"Tests whether this host can run Kata Containers on riscv64 and prints each\n"+
			"failed check with its reason and fix. Exits 1 when a check fails.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "kata-runtime check: unexpected arguments %q\n", fs.Args())
		return 2
	}

	host, err := check.NewHost()
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "kata-runtime check: %v\n", err)
		return 1
	}
	log := commandLogger(g, "check", stderr)
	in := loadCheckInput(g.configPath, log.WithField("subsystem", "config"))
	in.LoadModules = *loadModules

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	report := check.Run(ctx, host, in)

	return writeReport(stdout, stderr, report, *asJSON, *verbose, host.IsRoot)
}

func writeReport(w, stderr io.Writer, report *check.Report, asJSON, verbose, asRoot bool) int {
	var err error
	if asJSON {
		err = report.WriteJSON(w)
	} else {
		err = report.WriteText(w, verbose, asRoot)
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "kata-runtime check: writing the report: %v\n", err)
		return 1
	}
	return report.ExitCode()
}
