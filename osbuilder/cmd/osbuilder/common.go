package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// commonFlags are the options every subcommand takes.
type commonFlags struct {
	force bool
	debug bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.force, "force", false, "replace the output if it exists")
	fs.BoolVar(&c.debug, "debug", false, "log every command and its output")
}

// defaultCacheDir returns the directory that keeps downloaded packages
// between builds.
func defaultCacheDir() string {
	if dir := os.Getenv("XDG_CACHE_HOME"); dir != "" {
		return filepath.Join(dir, "osbuilder")
	}
	if os.Geteuid() == 0 {
		return "/var/cache/osbuilder"
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "osbuilder")
}

// sourceDateEpoch returns SOURCE_DATE_EPOCH as a time, or fallback when
// the variable is unset (https://reproducible-builds.org/specs/source-date-epoch/).
func sourceDateEpoch(fallback time.Time) (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return fallback, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: want seconds since 1970-01-01 UTC", v)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// parseFlags parses args and reports whether the caller should go on; code
// is the exit code otherwise.
func parseFlags(fs *flag.FlagSet, args []string) (ok bool, code int) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return false, 0
		}
		return false, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "osbuilder %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false, 2
	}
	return true, 0
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// absPaths makes each non-empty path absolute: apt and mmdebstrap hooks
// resolve relative paths against directories other than the caller's.
func absPaths(paths ...*string) error {
	for _, p := range paths {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("invalid path %q: %w", *p, err)
		}
		*p = abs
	}
	return nil
}
