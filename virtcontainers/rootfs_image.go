package virtcontainers

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// Layout and headroom of an ext4 image built from a root filesystem
// directory. mkfs.ext4 gets the block and inode sizes explicitly, so that the
// estimate below does not depend on the host's /etc/mke2fs.conf.
const (
	ext4BlockSize = 4096
	ext4InodeSize = 256
	// ext4InlineSymlinkMax is the longest symlink target ext4 keeps in the
	// inode itself (a fast symlink). Longer targets take a data block.
	ext4InlineSymlinkMax = 59

	// rootfsImageFreeBytes and rootfsImageFreeInodes are the room an image
	// leaves for the container's own writes, which on a shared filesystem
	// would go to the snapshot without a size limit.
	rootfsImageFreeBytes  = 256 << 20
	rootfsImageFreeInodes = 16384
)

// treeUsage is the space a directory tree takes in an ext4 filesystem.
type treeUsage struct {
	// dataBytes counts the data blocks of regular files, directories and
	// long symlinks, in bytes. A file's blocks count once however many hard
	// links it has.
	dataBytes int64
	// inodes counts files, directories, symlinks and special files.
	inodes int64
}

// measureTree returns the ext4 usage of the tree at dir, without following
// symlinks. A sparse file counts at its full length, because the estimate
// must not fall short.
func measureTree(dir string) (treeUsage, error) {
	var u treeUsage
	seen := map[[2]uint64]bool{}

	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if path != dir {
			// A directory entry: an 8-byte header and the name, padded to
			// 4 bytes.
			u.dataBytes += 8 + roundUp(int64(len(d.Name())), 4)
		}

		if st, ok := info.Sys().(*syscall.Stat_t); ok && !info.IsDir() && st.Nlink > 1 {
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}

		u.inodes++
		switch mode := info.Mode(); {
		case mode.IsRegular():
			u.dataBytes += roundUp(info.Size(), ext4BlockSize)
		case mode.IsDir():
			// One block for ".", ".." and the rounding of the entries
			// counted above.
			u.dataBytes += ext4BlockSize
		case mode&fs.ModeSymlink != 0 && info.Size() > ext4InlineSymlinkMax:
			u.dataBytes += ext4BlockSize
		}
		return nil
	})
	if err != nil {
		return treeUsage{}, fmt.Errorf("measuring %s: %w", dir, err)
	}
	return u, nil
}

// ext4ImageSize returns the size in bytes and the inode count of an ext4
// image for a tree of usage u. The size is the tree's data and inode table,
// a quarter more for ext4's own metadata (journal, bitmaps, group
// descriptors, extent tree blocks), and rootfsImageFreeBytes for the
// container's writes, rounded up to a MiB. The inode count is the tree's
// plus rootfsImageFreeInodes. The estimate is generous on purpose: the image
// file is sparse, so its free space takes host storage only once the
// container writes there.
func ext4ImageSize(u treeUsage) (size, inodes int64) {
	inodes = u.inodes + rootfsImageFreeInodes
	size = (u.dataBytes+inodes*ext4InodeSize)*5/4 + rootfsImageFreeBytes
	return roundUp(size, 1<<20), inodes
}

func roundUp(n, unit int64) int64 { return (n + unit - 1) / unit * unit }

// buildExt4Image creates image, a new sparse file, as an ext4 filesystem
// holding a copy of the tree at dir, sized by ext4ImageSize. It runs
// mkfs.ext4 -d (e2fsprogs 1.43 or later), which keeps the files' modes,
// owners, timestamps, extended attributes and hard links. On error no image
// is left behind.
func buildExt4Image(ctx context.Context, dir, image string, log *logrus.Entry) (err error) {
	mkfs, err := findE2fsprogsTool("mkfs.ext4")
	if err != nil {
		return err
	}
	root, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("rootfs directory: %w", err)
	}
	rootStat, ok := root.Sys().(*syscall.Stat_t)
	if !root.IsDir() || !ok {
		return fmt.Errorf("rootfs %s is not a directory", dir)
	}

	start := time.Now()
	usage, err := measureTree(dir)
	if err != nil {
		return err
	}
	size, inodes := ext4ImageSize(usage)
	log = log.WithFields(logrus.Fields{"rootfs": dir, "image": image})
	log.WithFields(logrus.Fields{"size_mib": size >> 20, "inodes": usage.inodes}).Info("building ext4 image of the rootfs directory")

	f, err := os.OpenFile(image, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating rootfs image: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := removeIfExists(image); rerr != nil {
				log.WithError(rerr).Warn("removing the incomplete rootfs image failed")
			}
		}
	}()
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sizing rootfs image %s to %d bytes: %w", image, size, err)
	}

	args := []string{
		"-q", "-F",
		"-b", strconv.Itoa(ext4BlockSize),
		"-I", strconv.Itoa(ext4InodeSize),
		"-N", strconv.FormatInt(inodes, 10),
		// No blocks reserved for root: the container is the only user.
		"-m", "0",
		// mkfs.ext4 -d copies the root directory's contents, but gives the
		// root itself mkfs's owner and mode 0755.
		"-E", fmt.Sprintf("root_owner=%d:%d", rootStat.Uid, rootStat.Gid),
		"-d", dir,
		image,
	}
	if err := runTool(ctx, mkfs, args...); err != nil {
		return fmt.Errorf("copying %s into the ext4 image %s (%d MiB for %d bytes of data and %d inodes): %w",
			dir, image, size>>20, usage.dataBytes, usage.inodes, err)
	}

	if perm := root.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); perm != 0o755 {
		if err := setImageRootMode(ctx, image, root.Mode()); err != nil {
			return err
		}
	}

	log.WithField("elapsed", time.Since(start).Round(time.Millisecond)).Info("rootfs image built")
	return nil
}

// setImageRootMode sets the mode of the image's root directory to the
// permission bits of mode, with debugfs.
func setImageRootMode(ctx context.Context, image string, mode fs.FileMode) error {
	debugfs, err := findE2fsprogsTool("debugfs")
	if err != nil {
		return err
	}
	bits := uint32(mode.Perm()) | syscall.S_IFDIR
	if mode&fs.ModeSetuid != 0 {
		bits |= syscall.S_ISUID
	}
	if mode&fs.ModeSetgid != 0 {
		bits |= syscall.S_ISGID
	}
	if mode&fs.ModeSticky != 0 {
		bits |= syscall.S_ISVTX
	}
	if err := runTool(ctx, debugfs, "-w", "-R", fmt.Sprintf("set_inode_field / mode 0%o", bits), image); err != nil {
		return fmt.Errorf("setting the root directory mode of rootfs image %s: %w", image, err)
	}
	return nil
}

// runTool runs an e2fsprogs program and returns an error that quotes the end
// of its output when it fails.
func runTool(ctx context.Context, path string, args ...string) error {
	var out tailBuffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if msg := out.String(); msg != "" {
			return fmt.Errorf("%s: %w: %s", filepath.Base(path), err, msg)
		}
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return nil
}

// e2fsprogsDirs are searched after PATH, because e2fsprogs installs into
// sbin directories that a shim started by containerd may not have in PATH.
var e2fsprogsDirs = []string{"/usr/sbin", "/sbin"}

// findE2fsprogsTool returns the path of an e2fsprogs program.
func findE2fsprogsTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range e2fsprogsDirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %v: install e2fsprogs 1.43 or later, which rootfs directory conversion needs", name, e2fsprogsDirs)
}
