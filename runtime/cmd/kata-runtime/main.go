// Command kata-runtime inspects a host and the Kata configuration: whether the
// host can run Kata Containers on riscv64 (check), the effective settings
// (env) and the build (--version).
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
)

// Stamped by the Makefile through -ldflags.
var (
	version = "0.0.0-dev"
	commit  = "unknown"
)

// command is one kata-runtime subcommand. Each lives in its own file and
// registers itself from an init function.
type command struct {
	name    string
	aliases []string
	usage   string
	// run parses the subcommand's arguments and returns the exit code.
	run func(g globalOptions, args []string) int
}

// globalOptions are the flags that come before the subcommand.
type globalOptions struct {
	// configPath is the --config value; empty means the usual lookup.
	configPath string
	debug      bool
}

var commands = map[string]*command{}

func register(c *command) {
	for _, n := range append([]string{c.name}, c.aliases...) {
		if _, dup := commands[n]; dup {
			panic("kata-runtime: command registered twice: " + n)
		}
		commands[n] = c
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var g globalOptions
	for len(args) > 0 {
		switch a := args[0]; {
		case a == "--version" || a == "-v" || a == "version":
			fmt.Printf("kata-runtime  : %s\n   commit   : %s\n   OCI specs: %s\n", version, commit, ociSpecVersion)
			return 0
		case a == "--help" || a == "-h" || a == "help":
			usage()
			return 0
		case a == "--debug":
			g.debug = true
			args = args[1:]
		case a == "--show-default-config-paths":
			// Upstream's flag: the files looked up when neither --config
			// nor KATA_CONF_FILE is given, in order.
			for _, p := range config.DefaultPaths() {
				fmt.Println(p)
			}
			return 0
		case a == "--config" || a == "-config" || a == "--kata-config":
			if len(args) < 2 {
				fmt.Fprintf(os.Stderr, "kata-runtime: %s needs a file path\n", a)
				return 2
			}
			g.configPath = args[1]
			args = args[2:]
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "--kata-config="):
			_, g.configPath, _ = strings.Cut(a, "=")
			args = args[1:]
		default:
			c, ok := commands[a]
			if !ok {
				fmt.Fprintf(os.Stderr, "kata-runtime: unknown command %q; run 'kata-runtime --help' for the list\n", a)
				return 2
			}
			return c.run(g, args[1:])
		}
	}
	usage()
	return 2
}

func usage() {
	fmt.Fprintf(os.Stderr, "Usage: kata-runtime [--config FILE] [--debug] COMMAND [OPTIONS]\n\n"+
		"--config (alias --kata-config) selects the configuration file; without it the\n"+
		"runtime reads $%s, else the first of:\n", config.EnvConfFile)
	for _, p := range config.DefaultPaths() {
		fmt.Fprintf(os.Stderr, "  %s\n", p)
	}
	fmt.Fprintf(os.Stderr, "\nCommands:\n")
	seen := map[*command]bool{}
	var list []*command
	for _, c := range commands {
		if !seen[c] {
			seen[c] = true
			list = append(list, c)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	for _, c := range list {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", c.name, c.usage)
	}
	fmt.Fprintf(os.Stderr, "  %-10s %s\n", "--version", "print the version and exit")
}

// ociSpecVersion is the OCI runtime specification this build implements.
var ociSpecVersion = specs.Version
