package cgroupstats

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadCgroupV2(t *testing.T) {
	root := t.TempDir()
	paths := Paths{Proc: filepath.Join(root, "proc"), Cgroup: filepath.Join(root, "cgroup")}
	writeFiles(t, root, map[string]string{
		"proc/1234/cgroup":               "0::/kata/c1\n",
		"cgroup/kata/c1/cgroup.procs":    "1234\n",
		"cgroup/kata/c1/cpu.stat":        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 30\n",
		"cgroup/kata/c1/memory.current":  "1048576\n",
		"cgroup/kata/c1/memory.peak":     "2097152\n",
		"cgroup/kata/c1/memory.max":      "max\n",
		"cgroup/kata/c1/memory.stat":     "anon 4096\nfile 8192\n",
		"cgroup/kata/c1/memory.events":   "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
		"cgroup/kata/c1/pids.current":    "4\n",
		"cgroup/kata/c1/pids.max":        "128\n",
		"cgroup/kata/c1/memory.swap.max": "max\n",
	})

	dir, err := paths.CgroupDir(1234)
	if err != nil {
		t.Fatalf("CgroupDir: %v", err)
	}
	if want := filepath.Join(paths.Cgroup, "kata/c1"); dir != want {
		t.Fatalf("CgroupDir = %s, want %s", dir, want)
	}

	stats, err := Read(dir)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"cpu total ns", stats.CpuStats.CpuUsage.TotalUsage, 2_500_000},
		{"cpu user ns", stats.CpuStats.CpuUsage.UsageInUsermode, 2_000_000},
		{"cpu system ns", stats.CpuStats.CpuUsage.UsageInKernelmode, 500_000},
		{"throttled periods", stats.CpuStats.ThrottlingData.ThrottledPeriods, 2},
		{"throttled ns", stats.CpuStats.ThrottlingData.ThrottledTime, 30_000},
		{"memory usage", stats.MemoryStats.Usage.Usage, 1 << 20},
		{"memory max usage", stats.MemoryStats.Usage.MaxUsage, 2 << 20},
		{"memory limit (max)", stats.MemoryStats.Usage.Limit, 0},
		{"memory failcnt", stats.MemoryStats.Usage.Failcnt, 3},
		{"cache", stats.MemoryStats.Cache, 8192},
		{"memory.stat anon", stats.MemoryStats.Stats["anon"], 4096},
		{"pids current", stats.PidsStats.Current, 4},
		{"pids limit", stats.PidsStats.Limit, 128},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

func TestCgroupDirWithoutV2(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"proc/7/cgroup": "4:memory:/x\n1:cpu:/x\n"})
	paths := Paths{Proc: filepath.Join(root, "proc"), Cgroup: filepath.Join(root, "cgroup")}
	if _, err := paths.CgroupDir(7); err == nil {
		t.Errorf("CgroupDir on a cgroup v1 process succeeded, want an error")
	}
}

func TestReadRejectsNonCgroup(t *testing.T) {
	if _, err := Read(t.TempDir()); err == nil {
		t.Errorf("Read of a plain directory succeeded, want an error")
	}
}

func TestReadInvalidValue(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"cgroup.procs": "", "pids.current": "many\n"})
	if _, err := Read(dir); err == nil {
		t.Errorf("Read with pids.current=many succeeded, want an error")
	}
}
