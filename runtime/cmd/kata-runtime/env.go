package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/check"
	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/env"
)

func init() {
	register(&command{
		name:    "env",
		aliases: []string{"kata-env"},
		usage:   "print the effective settings and host facts (TOML, or JSON with --json)",
		run:     runEnv,
	})
}

func runEnv(g globalOptions, args []string) int {
	return envMain(g, args, os.Stdout, os.Stderr)
}

func envMain(g globalOptions, args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("env", flag.ContinueOnError)
	fset.SetOutput(stderr)
	asJSON := fset.Bool("json", false, "print JSON instead of TOML")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	log := commandLogger(g, "env", stderr)

	// A lenient load lets the report show a configuration whose guest
	// kernel or image is not installed yet; the missing files are logged.
	cfg, err := config.Loader{Lenient: true, Log: log.WithField("subsystem", "config")}.Load(g.configPath)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "kata-runtime env: %v\n", err)
		return 1
	}
	for _, p := range cfg.MissingFiles {
		log.WithField("subsystem", "config").Warn(p.Error())
	}

	info := env.Gather(env.Options{
		Config:  cfg,
		Version: version,
		Commit:  commit,
		Log:     log,
		Capable: func() bool { return checkCapable(cfg, log) },
	})
	write := env.WriteTOML
	if *asJSON {
		write = env.WriteJSON
	}
	if err := write(stdout, info); err != nil {
		_, _ = fmt.Fprintf(stderr, "kata-runtime env: %v\n", err)
		return 1
	}
	return 0
}

// commandLogger returns the logger of a subcommand: text on w, warnings and
// errors only unless --debug is given.
func commandLogger(g globalOptions, subsystem string, w io.Writer) *logrus.Entry {
	logger := logrus.New()
	logger.SetOutput(w)
	logger.SetLevel(logrus.WarnLevel)
	if g.debug {
		logger.SetLevel(logrus.DebugLevel)
	}
	return logger.WithFields(logrus.Fields{"source": "kata-runtime", "subsystem": subsystem})
}

// checkCapable runs kata-runtime check's list against the host and cfg and
// reports whether every check passed. Upstream's kata-env fills
// VMContainerCapable the same way, from its own host checks.
func checkCapable(cfg *config.Config, log *logrus.Entry) bool {
	host, err := check.NewHost()
	if err != nil {
		log.WithError(err).Warn("cannot describe the host for the checks")
		return false
	}

	in := check.Input{
		ConfigPath:     cfg.Path,
		HypervisorType: cfg.HypervisorType,
		Hypervisor:     &cfg.Hypervisor,
		Agent:          &cfg.Agent,
	}
	for _, p := range cfg.MissingFiles {
		in.MissingFiles = append(in.MissingFiles, check.ConfigProblem{Key: p.Key, Value: p.Value, Reason: p.Reason, Fix: p.Fix})
	}
	return check.Run(context.Background(), host, in).Capable
}
