// Package output writes build results so that a failed or interrupted build
// leaves nothing half-written: each result is built under a temporary name
// next to its destination and renamed into place only when complete.
package output

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrExists is returned when the destination exists and force is off.
var ErrExists = errors.New("output exists")

// Staging is a temporary file or directory that becomes Dest on Commit.
type Staging struct {
	Dest string
	Path string
	done bool
}

// Begin checks dest and creates a staging directory (dir true) or an empty
// staging file beside it, in the same file system so the rename is atomic.
// An existing dest is an error unless force is set; it is replaced on Commit.
func Begin(dest string, dir, force bool) (*Staging, error) {
	if _, err := os.Lstat(dest); err == nil && !force {
		return nil, fmt.Errorf("%s: %w; pass --force to replace it", dest, ErrExists)
	}
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output directory %s: %w", parent, err)
	}

	pattern := "." + filepath.Base(dest) + ".tmp-*"
	s := &Staging{Dest: dest}
	if dir {
		p, err := os.MkdirTemp(parent, pattern)
		if err != nil {
			return nil, fmt.Errorf("creating a staging directory in %s: %w", parent, err)
		}
		// MkdirTemp creates mode 0700; a root file system's / needs 0755.
		if err := os.Chmod(p, 0o755); err != nil {
			os.RemoveAll(p)
			return nil, fmt.Errorf("chmod %s: %w", p, err)
		}
		s.Path = p
		return s, nil
	}
	f, err := os.CreateTemp(parent, pattern)
	if err != nil {
		return nil, fmt.Errorf("creating a staging file in %s: %w", parent, err)
	}
	f.Close()
	s.Path = f.Name()
	return s, nil
}

// Commit moves the staging result to Dest, replacing an old Dest.
func (s *Staging) Commit() error {
	if fi, err := os.Lstat(s.Dest); err == nil && fi.IsDir() {
		// rename(2) cannot replace a non-empty directory: move the old one
		// aside first so Dest is never missing for longer than two renames.
		old := s.Path + ".old"
		if err := os.Rename(s.Dest, old); err != nil {
			return fmt.Errorf("moving the old %s aside: %w", s.Dest, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(s.Path, s.Dest); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", s.Path, s.Dest, err)
	}
	s.done = true
	return nil
}

// Abort removes the staging result unless Commit succeeded; it is meant to
// be deferred right after Begin.
func (s *Staging) Abort() {
	if !s.done {
		os.RemoveAll(s.Path)
	}
}

// CheckSpace returns an error when the file system holding dir has fewer
// than need bytes available to unprivileged users.
func CheckSpace(dir string, need int64) error {
	var st unix.Statfs_t
	for {
		err := unix.Statfs(dir, &st)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.ENOENT) || dir == filepath.Dir(dir) {
			return fmt.Errorf("statfs %s: %w", dir, err)
		}
		dir = filepath.Dir(dir)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if avail < need {
		return fmt.Errorf("too little disk space in %s: %d MiB available, %d MiB needed; free some space or choose another output directory",
			dir, avail>>20, need>>20)
	}
	return nil
}
