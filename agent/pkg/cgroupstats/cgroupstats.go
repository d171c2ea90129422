// Package cgroupstats reads the resource usage of a container from its
// cgroup v2 directory, for StatsContainer.
package cgroupstats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// Paths of the proc and cgroup2 file systems, /proc and /sys/fs/cgroup in
// the guest; tests point them at fixtures.
type Paths struct {
	Proc   string
	Cgroup string
}

// CgroupDir returns the cgroup v2 directory of process pid, from the "0::"
// line of /proc/<pid>/cgroup.
func (p Paths) CgroupDir(pid int) (string, error) {
	path := filepath.Join(p.Proc, strconv.Itoa(pid), "cgroup")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the cgroup of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok {
			return filepath.Join(p.Cgroup, filepath.Clean("/"+rel)), nil
		}
	}
	return "", fmt.Errorf("%s has no cgroup v2 entry (\"0::\"): the guest must mount cgroup2 at %s", path, p.Cgroup)
}

// Read returns the statistics of the cgroup in dir. A controller file that
// is missing (the controller is not enabled for the cgroup) leaves its part
// zero.
func Read(dir string) (*grpc.CgroupStats, error) {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return nil, fmt.Errorf("%s is not a cgroup v2 directory: %w", dir, err)
	}

	stats := &grpc.CgroupStats{
		CpuStats:    &grpc.CpuStats{CpuUsage: &grpc.CpuUsage{}, ThrottlingData: &grpc.ThrottlingData{}},
		MemoryStats: &grpc.MemoryStats{Usage: &grpc.MemoryData{}, SwapUsage: &grpc.MemoryData{}, Stats: map[string]uint64{}, UseHierarchy: true},
		PidsStats:   &grpc.PidsStats{},
	}

	cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return nil, err
	}
	// cpu.stat is in microseconds; the protocol carries nanoseconds.
	stats.CpuStats.CpuUsage.TotalUsage = cpu["usage_usec"] * 1000
	stats.CpuStats.CpuUsage.UsageInUsermode = cpu["user_usec"] * 1000
	stats.CpuStats.CpuUsage.UsageInKernelmode = cpu["system_usec"] * 1000
	stats.CpuStats.ThrottlingData.Periods = cpu["nr_periods"]
	stats.CpuStats.ThrottlingData.ThrottledPeriods = cpu["nr_throttled"]
	stats.CpuStats.ThrottlingData.ThrottledTime = cpu["throttled_usec"] * 1000

	memStat, err := readKeyed(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return nil, err
	}
	stats.MemoryStats.Stats = memStat
	stats.MemoryStats.Cache = memStat["file"]
	if stats.MemoryStats.Usage.Usage, err = readValue(filepath.Join(dir, "memory.current")); err != nil {
		return nil, err
	}
	if stats.MemoryStats.Usage.MaxUsage, err = readValue(filepath.Join(dir, "memory.peak")); err != nil {
		return nil, err
	}
	if stats.MemoryStats.Usage.Limit, err = readValue(filepath.Join(dir, "memory.max")); err != nil {
		return nil, err
	}
	events, err := readKeyed(filepath.Join(dir, "memory.events"))
	if err != nil {
		return nil, err
	}
	stats.MemoryStats.Usage.Failcnt = events["max"]
	if stats.MemoryStats.SwapUsage.Usage, err = readValue(filepath.Join(dir, "memory.swap.current")); err != nil {
		return nil, err
	}
	if stats.MemoryStats.SwapUsage.Limit, err = readValue(filepath.Join(dir, "memory.swap.max")); err != nil {
		return nil, err
	}

	if stats.PidsStats.Current, err = readValue(filepath.Join(dir, "pids.current")); err != nil {
		return nil, err
	}
	if stats.PidsStats.Limit, err = readValue(filepath.Join(dir, "pids.max")); err != nil {
		return nil, err
	}

	// NOTE: io.stat and the hugetlb controller are not read yet, so
	// BlkioStats and HugetlbStats stay empty.
	return stats, nil
}

// readKeyed parses a flat keyed file ("key value" per line); a missing file
// gives an empty map.
func readKeyed(path string) (map[string]uint64, error) {
	out := make(map[string]uint64)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value %q for %s in %s: %w", value, key, path, err)
		}
		out[key] = v
	}
	return out, nil
}

// readValue parses a single-value file; "max" (no limit) and a missing file
// give 0.
func readValue(path string) (uint64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q in %s: %w", s, path, err)
	}
	return v, nil
}

// OOMKills returns how many processes of the cgroup in dir the OOM killer
// killed, from the oom_kill line of memory.events.
func OOMKills(dir string) (uint64, error) {
	events, err := readKeyed(filepath.Join(dir, "memory.events"))
	if err != nil {
		return 0, err
	}
	return events["oom_kill"], nil
}
