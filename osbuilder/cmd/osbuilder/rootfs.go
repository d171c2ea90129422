package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/rootfs"
)

func init() {
	register(&command{name: "rootfs", usage: "build a riscv64 guest root filesystem with mmdebstrap", run: runRootfs})
}

func runRootfs(args []string) int {
	fs := flag.NewFlagSet("rootfs", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	name := fs.String("distro", distro.Default, "distribution: ubuntu or debian")
	suite := fs.String("suite", "", "suite (default: ubuntu noble, debian trixie)")
	mirror := fs.String("mirror", "", "archive URL (default: the distribution's riscv64 archive)")
	agent := fs.String("agent", "", "riscv64 kata-agent binary to install as "+rootfs.AgentPath+" (required)")
	agentInit := fs.Bool("agent-init", false, "make the agent /sbin/init instead of systemd")
	modules := fs.String("kernel-modules", "", "modules tree from 'osbuilder kernel' (its modules/ directory) to install")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "directory for downloaded packages and keyrings")
	out := fs.String("out", "", "output directory (required)")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if err := absPaths(agent, modules, cacheDir, out); err != nil {
		fmt.Fprintln(os.Stderr, "osbuilder:", err)
		return 2
	}
	log := newLogger("rootfs", common.debug)

	if *agent == "" || *out == "" {
		return fail(log, fmt.Errorf("--agent and --out are required: osbuilder rootfs --distro debian --agent build/riscv64/kata-agent --out DIR"))
	}
	if _, err := os.Stat(*agent); err != nil {
		return fail(log, fmt.Errorf("agent %s: %w; run 'make build' to build it", *agent, err))
	}
	d, s, err := distro.Lookup(*name, *suite)
	if err != nil {
		return fail(log, err)
	}
	if *mirror == "" {
		*mirror = d.DefaultMirror
	}
	kind := distro.Systemd
	if *agentInit {
		kind = distro.AgentInit
	}
	created, err := sourceDateEpoch(time.Now())
	if err != nil {
		return fail(log, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := rootfs.Build(ctx, rootfs.Options{
		Distro: d, Suite: s, Mirror: *mirror, Kind: kind, Agent: *agent, ModulesDir: *modules,
		CacheDir: *cacheDir, Out: *out, Force: common.force, Version: version, Created: created, Log: log,
	})
	if err != nil {
		return fail(log, err)
	}
	fmt.Printf("rootfs %s: %s %s %s guest, %s in %d entries, built in %s\n",
		*out, d.Name, s, kind, mib(res.Size), res.Files, seconds(res.Duration))
	return 0
}
