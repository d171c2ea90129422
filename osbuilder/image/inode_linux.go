package image

import (
	"os"
	"syscall"
)

func inodeOf(fi os.FileInfo) (ino uint64, nlink uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && !fi.IsDir() {
		return st.Ino, uint64(st.Nlink)
	}
	return 0, 1
}
