// Command bench measures sandbox start-up of the Kata runtime. Cold runs
// start a new sandbox each, through containerd and the built shim. Warm runs
// exec into one running sandbox. The bare QEMU boot of the same guest is the
// cold start's floor. See docs/benchmarks.md for the method.
package main

import (
	"os"

	"github.com/kata-riscv64/kata-riscv64/tools/bench/cli"
)

var version, commit string

func main() {
	os.Exit(cli.Main(os.Args[1:], version, commit))
}
