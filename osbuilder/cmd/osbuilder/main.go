// Command osbuilder builds riscv64 Kata guests: a distribution kernel with
// the sandbox's modules (kernel), a root filesystem with the agent (rootfs),
// and that root as a disk image (image) or an initramfs (initrd).
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/sirupsen/logrus"
)

// Stamped by the Makefile through -ldflags.
var (
	version = "0.0.0-dev"
	commit  = "unknown"
)

// command is one osbuilder subcommand; each lives in its own file and
// registers itself from an init function.
type command struct {
	name  string
	usage string
	// run parses the subcommand's arguments and returns the exit code.
	run func(args []string) int
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("osbuilder: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "--version", "-v", "version":
		fmt.Printf("osbuilder %s (commit %s)\n", version, commit)
		return 0
	case "--help", "-h", "help":
		usage()
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "osbuilder: unknown command %q; run 'osbuilder --help' for the list\n", args[0])
		return 2
	}
	return c.run(args[1:])
}

func usage() {
	fmt.Println("Usage: osbuilder COMMAND [OPTIONS]")
	fmt.Println()
	fmt.Println("Builds riscv64 Kata Containers guests. Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  %-8s %s\n", n, commands[n].usage)
	}
	fmt.Println()
	fmt.Println("Run 'osbuilder COMMAND --help' for a command's options.")
}

// newLogger returns the logger of a subcommand: progress on stderr, so the
// one-line summary on stdout stays easy to read from scripts.
func newLogger(subsystem string, debug bool) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05"})
	if debug {
		l.SetLevel(logrus.DebugLevel)
	}
	return l.WithFields(logrus.Fields{"source": "osbuilder", "subsystem": subsystem})
}

// fail logs err and returns exit code 1.
func fail(log *logrus.Entry, err error) int {
	log.Error(err)
	return 1
}
