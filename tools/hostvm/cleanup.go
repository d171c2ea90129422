package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountsUnder returns the mount points at or below dir listed in a
// /proc/self/mountinfo stream, deepest first.
func mountsUnder(mountinfo io.Reader, dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	var found []string
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	// A mount below another has the longer path, so longest first unmounts
	// children before their parents.
	sort.Slice(found, func(i, j int) bool {
		if len(found[i]) != len(found[j]) {
			return len(found[i]) > len(found[j])
		}
		return found[i] < found[j]
	})
	return found, nil
}

// unescapeMountinfo decodes the octal escapes (\040 for a space) that the
// kernel writes in mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeBuildDir removes a build directory that may still contain the
// /proc, /sys and /dev mounts of an interrupted mmdebstrap. Removing files
// through such a mount would delete the host's own device nodes, so every
// mount below dir is detached first, and nothing is removed while one
// remains.
func removeBuildDir(dir string) error {
	for attempt := 0; attempt < 3; attempt++ {
		f, err := os.Open("/proc/self/mountinfo")
		if err != nil {
			return fmt.Errorf("listing mounts before removing %s: %w", dir, err)
		}
		mounts, err := mountsUnder(f, dir)
		f.Close()
		if err != nil {
			return err
		}
		if len(mounts) == 0 {
			return os.RemoveAll(dir)
		}
		for _, m := range mounts {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
	}
	return fmt.Errorf("%s still has mounts below it; unmount them and remove it by hand", dir)
}
