package initrd

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/output"
)

// Options describe one initrd build.
type Options struct {
	Rootfs      string
	Out         string
	Compression Compression
	// MTime is every entry's modification time: SOURCE_DATE_EPOCH when set.
	MTime time.Time
	Force bool
}

// Result summarises a written initrd.
type Result struct {
	Entries  int
	Size     int64
	Duration time.Duration
}

// CheckInit returns an error unless root has an init the kernel can start:
// /init, or /sbin/init that Build links /init to.
func CheckInit(root string) error {
	for _, p := range []string{"init", "sbin/init"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s has neither /init nor /sbin/init: build it with 'osbuilder rootfs'", root)
}

// Build writes o.Rootfs as a compressed initramfs to o.Out. The kernel runs
// /init from an initramfs, so an archive of a root without one gets
// /init -> sbin/init, as upstream's initrd builder links it.
func Build(o Options) (Result, error) {
	start := time.Now()
	if err := CheckInit(o.Rootfs); err != nil {
		return Result{}, err
	}
	_, err := os.Lstat(filepath.Join(o.Rootfs, "init"))
	initLink := os.IsNotExist(err)
	if err := output.CheckSpace(filepath.Dir(o.Out), 64<<20); err != nil {
		return Result{}, err
	}

	stage, err := output.Begin(o.Out, false, o.Force)
	if err != nil {
		return Result{}, err
	}
	defer stage.Abort()
	f, err := os.OpenFile(stage.Path, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()

	bw := bufio.NewWriterSize(f, 1<<20)
	cw, err := compressor(bw, o.Compression)
	if err != nil {
		return Result{}, err
	}
	n, err := WriteCPIO(cw, o.Rootfs, o.MTime, initLink)
	if err != nil {
		return Result{}, err
	}
	if err := cw.Close(); err != nil {
		return Result{}, fmt.Errorf("compressing %s: %w", o.Out, err)
	}
	if err := bw.Flush(); err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", o.Out, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return Result{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	if err := f.Close(); err != nil {
		return Result{}, err
	}
	if err := stage.Commit(); err != nil {
		return Result{}, err
	}
	return Result{Entries: n, Size: fi.Size(), Duration: time.Since(start)}, nil
}
