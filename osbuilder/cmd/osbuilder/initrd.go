package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/initrd"
)

func init() {
	register(&command{name: "initrd", usage: "write a root filesystem as a compressed cpio initramfs", run: runInitrd})
}

func runInitrd(args []string) int {
	fs := flag.NewFlagSet("initrd", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	root := fs.String("rootfs", "", "root filesystem directory from 'osbuilder rootfs' (required)")
	out := fs.String("out", "", "initrd file to write, e.g. kata-containers-initrd.img (required)")
	compress := fs.String("compress", "gzip", "compression: gzip, zstd or none")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if err := absPaths(root, out); err != nil {
		fmt.Fprintln(os.Stderr, "osbuilder:", err)
		return 2
	}
	log := newLogger("initrd", common.debug)
	if *root == "" || *out == "" {
		return fail(log, fmt.Errorf("--rootfs and --out are required: osbuilder initrd --rootfs DIR --out kata-containers-initrd.img"))
	}
	c, err := initrd.ParseCompression(*compress)
	if err != nil {
		return fail(log, err)
	}
	// Without SOURCE_DATE_EPOCH every entry gets the Unix epoch, so two
	// builds of the same tree are still byte-identical.
	mtime, err := sourceDateEpoch(time.Unix(0, 0))
	if err != nil {
		return fail(log, err)
	}

	log.Infof("cpio: writing %s (%s)", *out, c)
	res, err := initrd.Build(initrd.Options{Rootfs: *root, Out: *out, Compression: c, MTime: mtime, Force: common.force})
	if err != nil {
		return fail(log, err)
	}
	fmt.Printf("initrd %s: %s %s, %d entries, built in %s\n", *out, mib(res.Size), c, res.Entries, seconds(res.Duration))
	return 0
}
