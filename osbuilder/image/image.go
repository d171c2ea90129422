package image

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/output"
)

// RootParams are the kernel parameters an image from Build needs. The disk
// has an MBR partition table with one partition, as upstream Kata's images
// have, so the root is /dev/vda1 and configurations written for upstream
// images (root=/dev/vda1) boot ours unchanged. The flags are upstream's too:
// a read-only root that stays mountable after an error.
const RootParams = "root=/dev/vda1 rootfstype=ext4 rootflags=data=ordered,errors=remount-ro ro"

// partitionOffset is the root partition's start: 1 MiB, the alignment that
// partitioning tools use, which leaves room for the MBR.
const partitionOffset = 1 * mib

// partitionTable is sfdisk's script for the image: a DOS label with a fixed
// disk identifier, so equal inputs give equal tables, and one Linux
// partition from partitionOffset to the end of the disk.
const partitionTable = "label: dos\nlabel-id: 0x4b415441\nstart=2048, type=83\n"

// RootParamsFile is written next to the image and holds RootParams, for
// the runtime's configuration and the QEMU backend.
const RootParamsFile = "root.txt"

// Options describe one image build.
type Options struct {
	Rootfs string
	Out    string
	Force  bool
	// Progress receives mkfs.ext4's output lines; nil discards them.
	Progress func(string)
}

// Result summarises a written image.
type Result struct {
	Size       int64
	Allocated  int64
	RootParams string
	Duration   time.Duration
}

// CheckRootfs returns an error unless root can boot: /sbin/init exists and
// is systemd with the agent installed, or is the agent itself.
func CheckRootfs(root string) error {
	init := filepath.Join(root, "sbin/init")
	if _, err := os.Stat(init); err != nil {
		return fmt.Errorf("%s has no /sbin/init (%w): build it with 'osbuilder rootfs'", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/kata-agent")); err != nil {
		return fmt.Errorf("%s has no /usr/bin/kata-agent (%w): build it with 'osbuilder rootfs --agent'", root, err)
	}
	return nil
}

// Build writes o.Rootfs into a sparse ext4 image at o.Out and RootParams
// into root.txt beside it.
func Build(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	if err := CheckRootfs(o.Rootfs); err != nil {
		return Result{}, err
	}
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		return Result{}, fmt.Errorf("mkfs.ext4 not found: install e2fsprogs (1.43 or later for -d)")
	}
	if _, err := exec.LookPath("sfdisk"); err != nil {
		return Result{}, fmt.Errorf("sfdisk not found: install fdisk (util-linux)")
	}
	usage, err := Measure(o.Rootfs)
	if err != nil {
		return Result{}, err
	}
	fsSize := Size(usage)
	size := partitionOffset + fsSize
	if err := output.CheckSpace(filepath.Dir(o.Out), size); err != nil {
		return Result{}, err
	}

	stage, err := output.Begin(o.Out, false, o.Force)
	if err != nil {
		return Result{}, err
	}
	defer stage.Abort()
	// A sparse file: sfdisk and mkfs.ext4 write only the blocks they use.
	if err := os.Truncate(stage.Path, size); err != nil {
		return Result{}, fmt.Errorf("sizing %s: %w", stage.Path, err)
	}
	if err := partition(ctx, stage.Path); err != nil {
		return Result{}, err
	}

	// mkfs.ext4 formats the partition in place: -E offset skips the
	// partition table, and the block count bounds the file system to
	// the partition.
	args := []string{
		"-F", "-q", "-t", "ext4",
		"-b", strconv.Itoa(blockSize), "-I", strconv.Itoa(inodeSize),
		"-N", strconv.FormatInt(InodeCount(usage), 10),
		"-L", "kata-rootfs",
		// Reserved blocks keep a full disk usable for root daemons. The
		// guest root is not filled at run time, so it reserves none.
		"-m", "0",
		"-E", fmt.Sprintf("offset=%d,root_owner=0:0", partitionOffset),
		"-d", o.Rootfs,
		stage.Path,
		strconv.FormatInt(fsSize/blockSize, 10),
	}
	cmd := exec.CommandContext(ctx, "mkfs.ext4", args...)
	out, err := cmd.CombinedOutput()
	if o.Progress != nil {
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line != "" {
				o.Progress(line)
			}
		}
	}
	if err != nil {
		return Result{}, fmt.Errorf("mkfs.ext4 %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	if err := os.Chmod(stage.Path, 0o644); err != nil {
		return Result{}, err
	}

	allocated, err := allocatedBytes(stage.Path)
	if err != nil {
		return Result{}, err
	}
	params := filepath.Join(filepath.Dir(o.Out), RootParamsFile)
	if err := os.WriteFile(params, []byte(RootParams+"\n"), 0o644); err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", params, err)
	}
	if err := stage.Commit(); err != nil {
		return Result{}, err
	}
	return Result{Size: size, Allocated: allocated, RootParams: RootParams, Duration: time.Since(start)}, nil
}

// partition writes the image's partition table with sfdisk.
func partition(ctx context.Context, path string) error {
	cmd := exec.CommandContext(ctx, "sfdisk", "--quiet", "--wipe-partitions", "never", path)
	cmd.Stdin = strings.NewReader(partitionTable)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sfdisk %s: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	return nil
}
