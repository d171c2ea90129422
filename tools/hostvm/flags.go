package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// commonFlags are the flags of every subcommand that uses the image cache.
type commonFlags struct {
	cache  string
	mirror string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.cache, "cache", "", "image and run `DIR` (default: build/hostvm in the repository)")
	fs.StringVar(&c.mirror, "mirror", defaultMirror, "Debian `URL` to build the image from; part of the cache key")
}

// resolve fills the default cache directory from the repository root.
func (c *commonFlags) resolve(root string) {
	if c.cache == "" {
		c.cache = filepath.Join(root, "build", "hostvm")
	}
}

// vmFlags are the flags of subcommands that boot the image.
type vmFlags struct {
	qemu     string
	cpuFlags string
	smp      int
	mem      string
	aia      bool
	net      string
	timeout  time.Duration
	env      envFlag
	share    string
}

func (v *vmFlags) register(fs *flag.FlagSet, timeout time.Duration) {
	fs.StringVar(&v.qemu, "qemu", "qemu-system-riscv64", "outer QEMU `binary` (TCG) that emulates the host")
	fs.StringVar(&v.cpuFlags, "cpu-flags", "", "rv64 CPU properties as `NAME=VALUE,...`, such as h=false for a host without the H extension")
	fs.IntVar(&v.smp, "smp", 2, "number of harts")
	fs.StringVar(&v.mem, "mem", "4G", "memory `SIZE` in QEMU -m syntax (M or G suffix)")
	fs.BoolVar(&v.aia, "aia", false, "boot with AIA (aplic-imsic, 3 guest interrupt files) so that KVM guests inside get AIA; needs QEMU 10 or later")
	fs.StringVar(&v.net, "net", "none", "`MODE` of networking: none, or user (QEMU user-mode networking, outbound only, nothing forwarded)")
	fs.DurationVar(&v.timeout, "timeout", timeout, "`DURATION` after which the VM is killed, boot included")
	fs.Var(&v.env, "env", "`NAME=VALUE` to set in the command's environment; repeatable")
	fs.StringVar(&v.share, "share", "", "host `DIR` shared read-only at /mnt/build (default: the repository's build directory)")
}

var memRE = regexp.MustCompile(`^[1-9][0-9]*[MG]?$`)

// options validates the flags and returns the boot settings.
func (v *vmFlags) options(root string) (vmOptions, error) {
	opts := vmOptions{QEMU: v.qemu, SMP: v.smp, Mem: v.mem, AIA: v.aia, Net: v.net, Timeout: v.timeout, Env: v.env.values, ShareDir: v.share}
	flags, err := parseCPUFlags(v.cpuFlags)
	if err != nil {
		return opts, err
	}
	opts.CPUFlags = flags
	if v.smp < 1 || v.smp > 64 {
		return opts, fmt.Errorf("invalid --smp %d: want 1 to 64 harts", v.smp)
	}
	if !memRE.MatchString(v.mem) {
		return opts, fmt.Errorf("invalid --mem %q: want a size such as 4G or 2048M", v.mem)
	}
	if v.net != "none" && v.net != "user" {
		return opts, fmt.Errorf("invalid --net %q: want none or user", v.net)
	}
	if v.timeout <= 0 {
		return opts, fmt.Errorf("invalid --timeout %s: want a positive duration such as 20m", v.timeout)
	}
	if opts.ShareDir == "" {
		opts.ShareDir = filepath.Join(root, "build")
	}
	abs, err := filepath.Abs(opts.ShareDir)
	if err != nil {
		return opts, fmt.Errorf("resolving --share %s: %w", opts.ShareDir, err)
	}
	opts.ShareDir = abs
	return opts, nil
}

// envFlag collects repeated NAME=VALUE flags.
type envFlag struct{ values map[string]string }

func (e *envFlag) String() string {
	keys := make([]string, 0, len(e.values))
	for k, v := range e.values {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (e *envFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || !envNameRE.MatchString(name) {
		return fmt.Errorf("want NAME=VALUE with a shell variable name, got %q", s)
	}
	if e.values == nil {
		e.values = map[string]string{}
	}
	e.values[name] = value
	return nil
}

func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("hostvm "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: hostvm %s %s\n\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

func workingRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}
	return repoRoot(wd)
}
