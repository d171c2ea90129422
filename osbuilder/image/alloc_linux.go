package image

import (
	"fmt"
	"syscall"
)

// allocatedBytes returns the disk space a sparse file really uses.
func allocatedBytes(path string) (int64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return st.Blocks * 512, nil
}
