package run

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// memory is the resident set of a process, from /proc/<pid>/status, in KiB.
type memory struct {
	RSSKiB uint64 `json:"vm_rss_kib"`
	// HWMKiB is the peak RSS over the process's life.
	HWMKiB uint64 `json:"vm_hwm_kib"`
}

func readVmRSS(pid int) (uint64, error) {
	m, err := readMemory("/proc", pid)
	return m.RSSKiB, err
}

// readMemory reads VmRSS and VmHWM of pid from procRoot/<pid>/status.
func readMemory(procRoot string, pid int) (memory, error) {
	path := filepath.Join(procRoot, strconv.Itoa(pid), "status")
	data, err := os.ReadFile(path)
	if err != nil {
		return memory{}, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	return parseStatusMemory(string(data), path)
}

func parseStatusMemory(status, source string) (memory, error) {
	var m memory
	found := 0
	for _, line := range strings.Split(status, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) != 2 || fields[1] != "kB" {
			return memory{}, fmt.Errorf("%s: invalid %s line %q: want \"N kB\"", source, key, line)
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: invalid %s line %q: %w", source, key, line, err)
		}
		if key == "VmRSS" {
			m.RSSKiB = n
		} else {
			m.HWMKiB = n
		}
		found++
	}
	if found != 2 {
		return memory{}, fmt.Errorf("%s has no VmRSS and VmHWM lines; the process may be a kernel thread or a zombie", source)
	}
	return m, nil
}

// findShim returns the pid of the containerd-shim-kata-v2 process serving
// sandbox id for the containerd at address, from the command lines under
// procRoot. The shim runs as `containerd-shim-kata-v2 -namespace NS
// -address ADDRESS ... -id ID`.
func findShim(procRoot, address, id string) (int, error) {
	if pids := shimsOf(procRoot, address, id); len(pids) > 0 {
		return pids[0], nil
	}
	return 0, fmt.Errorf("no containerd-shim-kata-v2 process for sandbox %s of containerd %s", id, address)
}

// shimsOf returns the pids of the containerd-shim-kata-v2 processes of the
// containerd at address, only that of sandbox id when id is not empty.
func shimsOf(procRoot, address, id string) []int {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if filepath.Base(args[0]) != "containerd-shim-kata-v2" {
			continue
		}
		if flagValue(args, "-address") == address && (id == "" || flagValue(args, "-id") == id) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// shimExitTimeout bounds the wait for shims to exit after containerd deleted
// their last container; a shim exits after its Shutdown call returns.
const shimExitTimeout = 30 * time.Second

// waitShimsGone waits until no shim of the containerd at address runs, and
// returns the pids still running after timeout.
func waitShimsGone(procRoot, address string, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		pids := shimsOf(procRoot, address, "")
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// findChild returns the pid of the first child of parent whose command name
// (comm, at most 15 bytes) starts with prefix.
func findChild(procRoot string, parent int, prefix string) (int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return 0, fmt.Errorf("listing processes: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue
		}
		comm, ppid, err := parseStatParent(string(stat))
		if err == nil && ppid == parent && strings.HasPrefix(comm, prefix) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no child of process %d named %s*", parent, prefix)
}

// parseStatParent returns comm and ppid (fields 2 and 4) of a
// /proc/<pid>/stat line. comm is the text between the first "(" and the
// last ")", because comm may itself contain spaces and parentheses.
func parseStatParent(stat string) (string, int, error) {
	open := strings.IndexByte(stat, '(')
	closing := strings.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return "", 0, fmt.Errorf("invalid stat line %q", stat)
	}
	fields := strings.Fields(stat[closing+1:])
	if len(fields) < 2 {
		return "", 0, fmt.Errorf("invalid stat line %q: no ppid", stat)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, fmt.Errorf("invalid ppid %q in stat line: %w", fields[1], err)
	}
	return stat[open+1 : closing], ppid, nil
}
