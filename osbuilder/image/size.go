// Package image writes a root filesystem tree as a raw ext4 disk image for a
// virtio-blk root, without loop devices or root privileges.
package image

import (
	"fmt"
	"os"
	"path/filepath"
)

const (
	blockSize = 4096
	inodeSize = 256
	mib       = 1 << 20
	// minImageSize keeps tiny roots above ext4's practical minimum with a
	// 4 MiB journal.
	minImageSize = 32 * mib
)

// Usage is the space and inode count a tree needs on ext4.
type Usage struct {
	// DataBytes is the space files, symlinks and directories take in
	// 4 KiB blocks.
	DataBytes int64
	Inodes    int64
}

// Measure walks root and counts the blocks and inodes its entries need.
// Hard-linked files are counted once.
func Measure(root string) (Usage, error) {
	var u Usage
	seen := map[uint64]bool{}
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if ino, nlink := inodeOf(fi); nlink > 1 {
			if seen[ino] {
				return nil
			}
			seen[ino] = true
		}
		u.Inodes++
		switch {
		case fi.Mode().IsRegular(), fi.IsDir():
			u.DataBytes += roundUp(max(fi.Size(), 1), blockSize)
		case fi.Mode()&os.ModeSymlink != 0 && fi.Size() >= 60:
			// Targets shorter than 60 bytes live in the inode itself.
			u.DataBytes += blockSize
		}
		return nil
	})
	if err != nil {
		return Usage{}, fmt.Errorf("measuring %s: %w", root, err)
	}
	return u, nil
}

// Size returns the image size for u: the data and the inode tables plus
// 20% for ext4's metadata (block groups, bitmaps, the 4 MiB journal) and
// for writes at run time, rounded up to whole MiB.
func Size(u Usage) int64 {
	need := u.DataBytes + u.Inodes*inodeSize
	size := need + need/5 + 8*mib
	return max(roundUp(size, mib), minImageSize)
}

// InodeCount returns the inode count to format with: the tree's entries
// plus room for files created at run time.
func InodeCount(u Usage) int64 {
	return u.Inodes + u.Inodes/2 + 1024
}

func roundUp(n, to int64) int64 {
	return (n + to - 1) / to * to
}
