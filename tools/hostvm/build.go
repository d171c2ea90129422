package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sirupsen/logrus"
)

// buildArgs are the parsed arguments of 'hostvm build'.
type buildArgs struct {
	common commonFlags
	force  bool
}

func parseBuildArgs(args []string) (buildArgs, error) {
	var b buildArgs
	fs := newFlagSet("build", "[--cache DIR] [--mirror URL] [--force]")
	b.common.register(fs)
	fs.BoolVar(&b.force, "force", false, "rebuild even when the cache has an image for these inputs")
	if err := fs.Parse(args); err != nil {
		return b, err
	}
	if fs.NArg() > 0 {
		return b, errorf("unexpected arguments %q: hostvm build takes only flags", fs.Args())
	}
	return b, nil
}

func runBuild(log *logrus.Entry, args []string) int {
	b, err := parseBuildArgs(args)
	if err != nil {
		return usageExit(err)
	}
	if b.common.cache == "" {
		root, err := workingRoot()
		if err != nil {
			log.Error(err)
			return exitFailure
		}
		b.common.resolve(root)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := ensureImage(ctx, log, buildOptions{CacheDir: b.common.cache, Mirror: b.common.mirror, Force: b.force}); err != nil {
		log.Error(err)
		return exitFailure
	}
	return 0
}

// usageExit returns the exit code for a flag error; -h is not an error.
func usageExit(err error) int {
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(os.Stderr, "hostvm: %v\n", err)
	return exitUsage
}
