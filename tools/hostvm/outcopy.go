package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// copyTree copies the directories and regular files under src into dst,
// replacing files of the same name, and returns how many files it copied.
// The command in the VM writes src over 9p as root, so anything else there
// (a symbolic link, a fifo) is rejected rather than followed on this host.
func copyTree(src, dst string) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			if err := copyFile(path, target); err != nil {
				return err
			}
			n++
			return nil
		default:
			return fmt.Errorf("%s is a %s: only regular files and directories are copied", rel, d.Type())
		}
	})
	return n, err
}
