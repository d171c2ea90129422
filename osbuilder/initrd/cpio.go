// Package initrd writes a root filesystem tree as a compressed cpio (newc)
// initramfs that the same input always turns into the same bytes.
package initrd

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
	"golang.org/x/sys/unix"
)

// WriteCPIO writes the tree under root to w as a newc archive. Entries come
// in lexical path order (filepath.WalkDir's order), so a directory precedes
// its contents. Every entry's mtime is mtime. Inode numbers are assigned in
// that order. The first name of a hard-linked file carries its data and
// later names refer to it by inode, as the kernel's initramfs unpacker
// expects. Owners, modes, symlink targets and device numbers are
// kept. When initLink is set, the archive gets an /init symlink to
// sbin/init in its sorted place, without changing root. It returns the
// number of entries written.
func WriteCPIO(w io.Writer, root string, mtime time.Time, initLink bool) (int, error) {
	rw := cpio.Newc.Writer(w)
	rec := cpio.NewRecorder()
	n := 0
	writeInit := func() error {
		link := cpio.Symlink("init", "sbin/init")
		link.MTime = uint64(mtime.Unix())
		link.NLink = 1
		if err := rw.WriteRecord(link); err != nil {
			return fmt.Errorf("writing /init to the cpio archive: %w", err)
		}
		initLink = false
		n++
		return nil
	}

	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		r, err := rec.GetRecord(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if initLink && rel > "init" {
			if err := writeInit(); err != nil {
				return err
			}
		}
		r.Name = rel
		r.MTime = uint64(mtime.Unix())
		// The host device that holds a file means nothing in the guest.
		// Only a special file's own device number (rdev) is kept.
		r.Dev, r.Major, r.Minor = 0, 0, 0
		if r.Mode&unix.S_IFMT == unix.S_IFCHR || r.Mode&unix.S_IFMT == unix.S_IFBLK {
			var st syscall.Stat_t
			if err := syscall.Lstat(path, &st); err != nil {
				return fmt.Errorf("stat %s: %w", path, err)
			}
			r.Rmajor, r.Rminor = uint64(unix.Major(st.Rdev)), uint64(unix.Minor(st.Rdev))
		} else {
			r.Rmajor, r.Rminor = 0, 0
		}
		if err := rw.WriteRecord(r); err != nil {
			return fmt.Errorf("writing %s to the cpio archive: %w", rel, err)
		}
		n++
		return nil
	})
	if err != nil {
		return n, err
	}
	if initLink {
		if err := writeInit(); err != nil {
			return n, err
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return n, fmt.Errorf("writing the cpio trailer: %w", err)
	}
	return n, nil
}

// ReadCPIO returns the records of an uncompressed newc archive, for checks
// and tests. The records read their contents from r, which must stay open.
func ReadCPIO(r io.ReaderAt) ([]cpio.Record, error) {
	return cpio.ReadAllRecords(cpio.Newc.Reader(r))
}
