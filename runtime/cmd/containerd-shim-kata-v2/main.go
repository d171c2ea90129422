// Command containerd-shim-kata-v2 is the containerd shim of the
// io.containerd.kata.v2 runtime: containerd starts one per sandbox, and it
// runs the sandbox's containers in a riscv64 VM.
package main

import (
	"fmt"
	"os"

	"github.com/containerd/containerd/runtime/v2/shim"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/containerdshim"
)

// Stamped by the Makefile through -ldflags.
var (
	version = "0.0.0-dev"
	commit  = "unknown"
)

func main() {
	if err := containerdshim.MarkInheritedFDsCloseOnExec(); err != nil {
		fmt.Fprintf(os.Stderr, "containerd-shim-kata-v2: %v\n", err)
		os.Exit(1)
	}
	if serving(os.Args[1:]) {
		containerdshim.RedirectStderrToLog()
	}
	containerdshim.SetVersion(version, commit)
	// The shim waits for its own children (QEMU, virtiofsd) to learn how
	// they ended; the library's reaper would take their exit statuses first.
	shim.Run(containerdshim.RuntimeName, containerdshim.New, func(c *shim.Config) { c.NoReaper = true })
}

// serving reports whether args start the long-running shim: containerd
// names the start and delete actions last, and the start action launches
// the serving shim without one.
func serving(args []string) bool {
	if len(args) == 0 {
		return false
	}
	last := args[len(args)-1]
	return last != "start" && last != "delete"
}
