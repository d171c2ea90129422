// Package cli parses the bench command line and runs the benchmark session.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/tools/bench/run"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

const usage = `usage: bench [flags] MODE

Modes:
  all    bare boots and cold runs interleaved, then warm execs, with RSS
  bare   bare QEMU boots of the guest to agent-ready
  cold   cold runs: 'ctr run --rm' with a new sandbox each
  warm   warm runs: one sandbox, sequential 'ctr task exec'

Results go to the output directory: results.json, results.txt and SVG plots.
The command needs root, containerd, ctr and qemu-system-riscv64, and the
outputs of 'make build' and 'make guest'.

Flags:
`

// Main runs the command with args and returns the exit code.
func Main(args []string, version, commit string) int {
	code, err := run1(args, version, commit, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	return code
}

func run1(args []string, version, commit string, stdout, stderr io.Writer) (int, error) {
	repo, err := findRepoRoot()
	if err != nil {
		return 2, err
	}
	o := run.DefaultOptions(repo)

	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	n := fs.Int("n", run.DefaultRuns, "runs of each selected mode")
	bareN := fs.Int("bare-n", -1, "bare boots, overriding -n (all only)")
	coldN := fs.Int("cold-n", -1, "cold runs, overriding -n (all only)")
	warmN := fs.Int("warm-n", -1, "warm execs, overriding -n (all only)")
	fs.StringVar(&o.OutDir, "out", o.OutDir, "output directory")
	fs.StringVar(&o.RepoRoot, "repo", o.RepoRoot, "repository checkout holding build/")
	fs.StringVar(&o.ConfigTemplate, "config", o.ConfigTemplate, "Kata configuration to adapt")
	fs.StringVar(&o.Kernel, "kernel", o.Kernel, "guest kernel")
	fs.StringVar(&o.Initrd, "initrd", o.Initrd, "guest initrd with the agent as init")
	accel := fs.String("accel", string(o.Accelerator), "QEMU accelerator: kvm or tcg (default by host architecture)")
	sharedFS := fs.String("shared-fs", string(o.SharedFS), "shared filesystem: virtio-fs or virtio-9p (default by host architecture)")
	channel := fs.String("agent-channel", string(o.AgentChannel), "agent channel: vsock, serial or auto (default by host architecture)")
	fs.DurationVar(&o.DialTimeout, "dial-timeout", o.DialTimeout, "time the agent has to answer after the VM starts")
	fs.DurationVar(&o.RunTimeout, "run-timeout", o.RunTimeout, "time one cold run or exec may take")
	debug := fs.Bool("debug", false, "log the tool's and the QEMU backend's debug messages")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if *showVersion {
		fmt.Fprintf(stdout, "bench %s (commit %s)\n", version, commit)
		return 0, nil
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2, errors.New("expected one mode: all, bare, cold or warm")
	}

	o.Accelerator = vc.Accelerator(*accel)
	o.SharedFS = vc.SharedFSType(*sharedFS)
	o.AgentChannel = vc.AgentChannel(*channel)
	if err := selectModes(&o, fs.Arg(0), *n, *bareN, *coldN, *warmN); err != nil {
		return 2, err
	}

	log := logrus.New()
	log.SetOutput(stderr)
	if *debug {
		log.SetLevel(logrus.DebugLevel)
	} else {
		log.SetLevel(logrus.WarnLevel)
	}
	o.Log = log.WithField("source", "bench")
	o.Progress = stderr
	if !filepath.IsAbs(o.OutDir) {
		if o.OutDir, err = filepath.Abs(o.OutDir); err != nil {
			return 2, err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	res, runErr := run.Run(ctx, o)
	if res != nil {
		files, err := run.WriteOutputs(o.OutDir, res)
		if err != nil {
			return 1, errors.Join(runErr, fmt.Errorf("writing the results: %w", err))
		}
		fmt.Fprintln(stdout)
		if err := run.WriteTable(stdout, res); err != nil {
			return 1, err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(files, ", "))
	}
	if runErr != nil {
		return 1, runErr
	}
	return 0, nil
}

// selectModes sets the run counts for mode.
func selectModes(o *run.Options, mode string, n, bareN, coldN, warmN int) error {
	pick := func(override int) int {
		if override >= 0 {
			return override
		}
		return n
	}
	o.BareRuns, o.ColdRuns, o.WarmRuns = 0, 0, 0
	switch mode {
	case "all":
		o.BareRuns, o.ColdRuns, o.WarmRuns = pick(bareN), pick(coldN), pick(warmN)
	case "bare":
		o.BareRuns = n
	case "cold":
		o.ColdRuns = n
	case "warm":
		o.WarmRuns = n
	default:
		return fmt.Errorf("unknown mode %q: expected all, bare, cold or warm", mode)
	}
	if o.BareRuns+o.ColdRuns+o.WarmRuns == 0 {
		return errors.New("nothing to run: every run count is 0")
	}
	return nil
}

// findRepoRoot returns the closest directory at or above the working
// directory that holds the module's go.mod, or the working directory.
func findRepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/kata-riscv64/kata-riscv64\n") {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return wd, nil
		}
	}
}
