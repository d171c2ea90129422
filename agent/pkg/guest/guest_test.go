package guest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestOnlineCPUs(t *testing.T) {
	root := t.TempDir()
	cpu := filepath.Join(root, "devices/system/cpu")
	if err := os.MkdirAll(filepath.Join(cpu, "cpu0"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(cpu, "cpu1/online"), "1\n")
	writeFile(t, filepath.Join(cpu, "cpu2/online"), "0\n")
	writeFile(t, filepath.Join(cpu, "cpu10/online"), "0\n")
	writeFile(t, filepath.Join(cpu, "cpu3/online"), "0\n")

	got, err := Sysfs(root).OnlineCPUs(context.Background(), 2, false)
	if err != nil {
		t.Fatalf("OnlineCPUs: %v", err)
	}
	if got != 2 {
		t.Errorf("OnlineCPUs onlined %d, want 2", got)
	}
	for name, want := range map[string]string{"cpu2": "1", "cpu3": "1", "cpu10": "0\n"} {
		if got := readFile(t, filepath.Join(cpu, name, "online")); got != want {
			t.Errorf("%s/online = %q, want %q (lowest-numbered CPUs first)", name, got, want)
		}
	}
}

func TestOnlineCPUsWaitEndsWithContext(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "devices/system/cpu/cpu1/online"), "0\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	got, err := Sysfs(root).OnlineCPUs(ctx, 3, true)
	if err == nil {
		t.Fatalf("OnlineCPUs of 3 with one CPU present succeeded, want a context error")
	}
	if got != 1 {
		t.Errorf("OnlineCPUs onlined %d, want 1", got)
	}
}

func TestMemBlockSize(t *testing.T) {
	root := t.TempDir()
	if got, err := Sysfs(root).MemBlockSize(); err != nil || got != 0 {
		t.Errorf("MemBlockSize without hotplug = %d, %v, want 0, nil", got, err)
	}
	writeFile(t, filepath.Join(root, "devices/system/memory/block_size_bytes"), "8000000\n")
	if got, err := Sysfs(root).MemBlockSize(); err != nil || got != 128<<20 {
		t.Errorf("MemBlockSize = %d, %v, want %d", got, err, 128<<20)
	}
}

func TestOnlineMemory(t *testing.T) {
	root := t.TempDir()
	mem := filepath.Join(root, "devices/system/memory")
	writeFile(t, filepath.Join(mem, "memory0/state"), "online\n")
	writeFile(t, filepath.Join(mem, "memory1/state"), "offline\n")
	if err := Sysfs(root).OnlineMemory(); err != nil {
		t.Fatalf("OnlineMemory: %v", err)
	}
	if got := readFile(t, filepath.Join(mem, "memory1/state")); got != "online" {
		t.Errorf("memory1/state = %q, want online", got)
	}
}

func TestSetTimeRejectsInvalid(t *testing.T) {
	if err := SetTime(0, 2_000_000); err == nil {
		t.Errorf("SetTime with 2,000,000 us succeeded, want an error")
	}
}
