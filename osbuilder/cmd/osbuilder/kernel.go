package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/kernel"
)

func init() {
	register(&command{name: "kernel", usage: "fetch the distribution's riscv64 kernel and the sandbox's modules", run: runKernel})
}

func runKernel(args []string) int {
	fs := flag.NewFlagSet("kernel", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	name := fs.String("distro", distro.Default, "distribution: ubuntu or debian")
	suite := fs.String("suite", "", "suite (default: ubuntu noble, debian trixie)")
	mirror := fs.String("mirror", "", "archive URL (default: the distribution's riscv64 archive)")
	modules := fs.String("modules", strings.Join(kernel.SandboxModules, ","), "comma-separated modules to ship, with their dependencies")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "directory for downloaded packages and keyrings")
	out := fs.String("out", "", "output directory (required)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if err := absPaths(cacheDir, out); err != nil {
		fmt.Fprintln(os.Stderr, "osbuilder:", err)
		return 2
	}
	log := newLogger("kernel", common.debug)
	if *out == "" {
		return fail(log, fmt.Errorf("--out is required: osbuilder kernel --distro debian --out DIR"))
	}
	d, s, err := distro.Lookup(*name, *suite)
	if err != nil {
		return fail(log, err)
	}
	if *mirror == "" {
		*mirror = d.DefaultMirror
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := kernel.Build(ctx, kernel.Options{
		Distro: d, Suite: s, Mirror: *mirror, CacheDir: *cacheDir, Out: *out, Force: common.force,
		Modules: strings.Split(*modules, ","), Log: log,
	})
	if err != nil {
		return fail(log, err)
	}
	fmt.Printf("kernel %s: %s %s (%s, %s), %d modules in %s, built in %s\n",
		filepath.Join(*out, kernel.ImageName), d.Name, res.Version, res.Format, mib(res.ImageSize),
		len(res.Modules), filepath.Join(*out, kernel.ModulesTree), seconds(res.Duration))
	return 0
}
