// Command hostvm builds and boots an emulated riscv64 host: Debian trixie
// under qemu-system-riscv64 (TCG) with the H extension, so that the project's
// riscv64 binaries run with a real /dev/kvm, vhost-vsock, containerd and a
// riscv64 QEMU on an x86 machine. Sandbox VMs inside it run under nested KVM.
//
//	hostvm build [--cache DIR] [--mirror URL]
//	hostvm run [flags] -- COMMAND...
//	hostvm e2e [flags]
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/sirupsen/logrus"
)

// Exit codes of hostvm itself. A command run inside the emulated host passes
// its own exit code through, so these follow the conventions of timeout(1)
// and env(1) to stay apart from the usual command codes.
const (
	exitTimeout = 124 // the command did not finish within --timeout
	exitFailure = 125 // hostvm failed: bad input, build or boot failure
	exitUsage   = 2   // invalid arguments
)

// command is one hostvm subcommand, each in its own file.
type command struct {
	name    string
	summary string
	// run parses the subcommand's arguments and returns the process exit code.
	run func(log *logrus.Entry, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"build": {name: "build", summary: "build the emulated host image (cached by its inputs)", run: runBuild},
		"run":   {name: "run", summary: "boot the emulated host and run a command in it as root", run: runRun},
		"e2e":   {name: "e2e", summary: "build and run the end-to-end tests inside the emulated host", run: runE2E},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

func dispatch(args []string) int {
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	logger.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05"})
	log := logger.WithField("source", "hostvm")

	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return exitUsage
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "hostvm: unknown command %q; run 'hostvm --help' for the list\n", args[0])
		return exitUsage
	}
	return cmd.run(log.WithField("subsystem", cmd.name), args[1:])
}

func usage() {
	fmt.Fprintln(os.Stderr, "Usage: hostvm COMMAND [flags]")
	fmt.Fprintln(os.Stderr, "\nBuilds and boots an emulated riscv64 host (Debian trixie, H extension, KVM inside).")
	fmt.Fprintln(os.Stderr, "\nCommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-6s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'hostvm COMMAND --help' for the flags of a command.")
	fmt.Fprintf(os.Stderr, "\nExit codes: the command's own code for run and e2e, %d on timeout, %d when hostvm fails, %d for invalid arguments.\n",
		exitTimeout, exitFailure, exitUsage)
}
