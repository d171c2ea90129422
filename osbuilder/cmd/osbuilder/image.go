package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/image"
)

func init() {
	register(&command{name: "image", usage: "write a root filesystem as an ext4 disk image", run: runImage})
}

func runImage(args []string) int {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var common commonFlags
	common.register(fs)
	root := fs.String("rootfs", "", "root filesystem directory from 'osbuilder rootfs' (required)")
	out := fs.String("out", "", "image file to write, e.g. kata-containers.img (required)")
	preinit := fs.String("preinit", "", "riscv64 kata-preinit binary; needed when the root's kernel has virtio_blk or ext4 as modules")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if err := absPaths(root, out, preinit); err != nil {
		fmt.Fprintln(os.Stderr, "osbuilder:", err)
		return 2
	}
	log := newLogger("image", common.debug)
	if *root == "" || *out == "" {
		return fail(log, fmt.Errorf("--rootfs and --out are required: osbuilder image --rootfs DIR --out kata-containers.img"))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	needBoot, version, err := image.NeedsBootInitrd(*root)
	if err != nil {
		return fail(log, err)
	}
	if needBoot && *preinit == "" {
		return fail(log, fmt.Errorf("the kernel modules in %s build virtio_blk or ext4 as modules, so the image needs a boot initrd: pass --preinit build/riscv64/kata-preinit (run 'make build' first)", *root))
	}

	log.Infof("mkfs.ext4: writing %s", *out)
	res, err := image.Build(ctx, image.Options{Rootfs: *root, Out: *out, Force: common.force,
		Progress: func(line string) { log.Info("mkfs.ext4: " + line) }})
	if err != nil {
		return fail(log, err)
	}
	summary := fmt.Sprintf("image %s: %s (%s allocated), %s written to %s",
		*out, mib(res.Size), mib(res.Allocated), res.RootParams, filepath.Join(filepath.Dir(*out), image.RootParamsFile))

	if needBoot {
		mtime, err := sourceDateEpoch(time.Unix(0, 0))
		if err != nil {
			return fail(log, err)
		}
		bootOut := filepath.Join(filepath.Dir(*out), image.BootInitrdName)
		log.Infof("writing the boot initrd %s (kernel %s)", bootOut, version)
		boot, err := image.BuildBootInitrd(image.BootInitrdOptions{Rootfs: *root, Preinit: *preinit, Out: bootOut,
			MTime: mtime, Force: common.force}, version)
		if err != nil {
			return fail(log, err)
		}
		summary += fmt.Sprintf("; boot initrd %s (%s) loads virtio_blk and ext4", bootOut, mib(boot.Size))
	}
	fmt.Printf("%s; built in %s\n", summary, seconds(res.Duration))
	return 0
}
