package shimtest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// acceptConnections is __SO_ACCEPTCON in the Flags column of /proc/net/unix:
// the socket listens.
const acceptConnections = 0x10000

// ShimSocketHolders returns the ids of the processes that have the listening
// socket of sandbox id's shim open. Only the shim should have it, because a
// child that inherited the socket keeps it accepting connections after the
// shim dies, and containerd then cannot tell that the shim is gone.
func (c *Ctr) ShimSocketHolders(id string) ([]int, error) {
	sock, err := c.shimSocket(id)
	if err != nil {
		return nil, err
	}
	inode, err := listeningInode(sock)
	if err != nil {
		return nil, err
	}

	link := "socket:[" + inode + "]"
	fdDirs, err := filepath.Glob("/proc/[0-9]*/fd")
	if err != nil {
		return nil, err
	}
	var holders []int
	for _, dir := range fdDirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // the process exited or is not ours to read
		}
		for _, e := range entries {
			if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == link {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
				holders = append(holders, pid)
				break
			}
		}
	}
	return holders, nil
}

// listeningInode returns the inode of the listening Unix socket bound to
// path, from /proc/net/unix (Num RefCount Protocol Flags Type St Inode Path).
func listeningInode(path string) (string, error) {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return "", err
	}
	defer f.Close()

	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[7] != path {
			continue
		}
		flags, err := strconv.ParseUint(fields[3], 16, 32)
		if err == nil && flags&acceptConnections != 0 {
			return fields[6], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no listening socket bound to %s in /proc/net/unix", path)
}
