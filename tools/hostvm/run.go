package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// errHelp is flag.ErrHelp: -h or --help was given.
var errHelp = flag.ErrHelp

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// runArgs are the parsed arguments of 'hostvm run'.
type runArgs struct {
	common  commonFlags
	vm      vmFlags
	keep    bool
	out     string
	command []string
}

const runUsage = `[flags] -- COMMAND [ARG...]

Boots the emulated riscv64 host and runs COMMAND as root once systemd has
reached multi-user.target (kvm, vhost_vsock and vhost_net loaded, containerd
running). The repository's build directory is mounted read-only at
/mnt/build, which is also the working directory, so the riscv64 binaries are
in /mnt/build/riscv64. COMMAND's stdout and stderr are streamed here, and
hostvm exits with COMMAND's exit status, or 124 on timeout, or 125 when the
VM fails. The run directory, with the console log, is kept unless COMMAND
exits with status 0. With --out DIR, the files that COMMAND writes under
$HOSTVM_OUT_DIR are copied to DIR on this machine when it ends, whatever its
exit status.`

func parseRunArgs(args []string) (runArgs, error) {
	var r runArgs
	fs := newFlagSet("run", runUsage)
	r.common.register(fs)
	r.vm.register(fs, 30*time.Minute)
	fs.BoolVar(&r.keep, "keep", false, "keep the run directory (console log, output files) after a successful run")
	fs.StringVar(&r.out, "out", "", "host `DIR` that receives the files COMMAND writes under $HOSTVM_OUT_DIR")
	if err := fs.Parse(args); err != nil {
		return r, err
	}
	r.command = fs.Args()
	if len(r.command) == 0 {
		return r, errorf("missing COMMAND: usage is hostvm run [flags] -- COMMAND [ARG...]")
	}
	return r, nil
}

func runRun(log *logrus.Entry, args []string) int {
	r, err := parseRunArgs(args)
	if err != nil {
		return usageExit(err)
	}
	root, rootErr := workingRoot()
	if (r.common.cache == "" || r.vm.share == "") && rootErr != nil {
		log.Error(rootErr)
		return exitFailure
	}
	r.common.resolve(root)
	opts, err := r.vm.options(root)
	if err != nil {
		return usageExit(err)
	}
	opts.KeepRun = r.keep
	if r.out != "" {
		if opts.OutDir, err = filepath.Abs(r.out); err != nil {
			return usageExit(fmt.Errorf("resolving --out %s: %w", r.out, err))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	image, err := prepareBoot(ctx, log, r.common, opts)
	if err != nil {
		log.Error(err)
		return exitFailure
	}
	res, err := runInVM(ctx, log, image, r.common.cache, opts, r.command, os.Stdout, os.Stderr)
	return exitCodeOf(log, res, err)
}

// prepareBoot checks the outer QEMU and returns the image, building it when
// the cache has none for these inputs.
func prepareBoot(ctx context.Context, log *logrus.Entry, common commonFlags, opts vmOptions) (imageDir, error) {
	if opts.AIA {
		v, err := probeQEMUVersion(ctx, opts.QEMU)
		if err != nil {
			return "", err
		}
		if err := checkAIASupport(v, opts.QEMU); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(opts.ShareDir); err != nil {
		return "", fmt.Errorf("the shared build directory %s: %w: run 'make build' first or pass --share DIR", opts.ShareDir, err)
	}
	return ensureImage(ctx, log, buildOptions{CacheDir: common.cache, Mirror: common.mirror})
}

// exitCodeOf maps a run's outcome to hostvm's exit code.
func exitCodeOf(log *logrus.Entry, res runResult, err error) int {
	switch {
	case err == nil:
		return res.exitCode
	case errors.Is(err, errTimeout):
		log.Error(err)
		return exitTimeout
	default:
		log.Error(err)
		return exitFailure
	}
}
