// Command kata-agent runs inside the sandbox VM and creates and runs the
// sandbox's containers on the runtime's requests.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/agent"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/initd"
	"github.com/kata-riscv64/kata-riscv64/agent/pkg/sandbox"
)

// Set by the linker (see the Makefile).
var version, commit string

func main() {
	// The holder of a sandbox's shared PID namespace is this binary too.
	if len(os.Args) == 2 && os.Args[1] == sandbox.PauseArg {
		pause()
	}

	pid1 := os.Getpid() == 1
	opts := agent.Options{Version: version}
	if opts.Version == "" {
		opts.Version = "0.0.0-dev"
	}
	if commit != "" {
		opts.Version += "-" + commit
	}

	flag.StringVar(&opts.Cmdline, "cmdline", "/proc/cmdline", "file with the kernel command line to read agent.* parameters from")
	flag.StringVar(&opts.StateDir, "state-dir", "/run/kata-containers/agent", "directory for container bundles and the OCI runtime's state")
	flag.StringVar(&opts.ResolvConf, "resolv-conf", "/etc/resolv.conf", "file that receives the sandbox's DNS settings")
	flag.StringVar(&opts.ModulesLoadDir, "modules-load-dir", "/etc/modules-load.d", "directory of *.conf files naming kernel modules to load at start as PID 1")
	flag.StringVar(&opts.ProcDir, "proc", "/proc", "mount point of proc")
	flag.StringVar(&opts.SysDir, "sys", "/sys", "mount point of sysfs")
	flag.StringVar(&opts.CgroupDir, "cgroup", "/sys/fs/cgroup", "mount point of cgroup2")
	flag.BoolVar(&opts.SetHostname, "set-hostname", true, "apply the sandbox's hostname")
	flag.BoolVar(&opts.PowerOff, "power-off", pid1, "power the machine off when the agent stops (default on as PID 1)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()

	if *showVersion {
		fmt.Println("kata-agent", opts.Version)
		return
	}

	// The console is a terminal, which would get colour codes by default,
	// and the runtime keeps it as a log file. Request timings need the
	// sub-second part of the time.
	logrus.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339Nano, DisableColors: true})
	logrus.SetOutput(os.Stderr)

	if err := agent.Run(context.Background(), opts); err != nil {
		logrus.WithField("source", "kata-agent").WithError(err).Error("agent failed")
		// PID 1 must not exit: the kernel would panic.
		if pid1 {
			if err := initd.PowerOff(); err != nil {
				logrus.WithField("source", "kata-agent").WithError(err).Error("power-off failed")
			}
			select {}
		}
		os.Exit(1)
	}
}
