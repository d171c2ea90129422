//go:build integration

package run

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRunAllModes runs one bare boot, one cold run and two warm execs
// through a real containerd, the built shim and QEMU, as `make bench` does
// with more runs.
func TestRunAllModes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	for _, tool := range []string{"containerd", "ctr", "qemu-system-riscv64"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: run 'make deps'", tool)
		}
	}
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions(repo)
	o.BareRuns, o.ColdRuns, o.WarmRuns = 1, 1, 2
	o.OutDir = t.TempDir()
	if _, err := findAssets(o); err != nil {
		t.Skipf("build outputs missing: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	for _, name := range []string{"bare", "cold", "warm"} {
		m := res.mode(name)
		if m == nil {
			t.Errorf("results lack mode %s", name)
			continue
		}
		if m.Runs == 0 {
			t.Errorf("mode %s: no successful run; failures: %v", name, m.Failures)
		}
	}
	if res.Ratios == nil {
		t.Error("results lack the cold/bare ratio")
	}
	if res.Memory.Shim == nil || res.Memory.Shim.RSSKiB == 0 {
		t.Errorf("shim RSS not measured: %+v", res.Memory.Shim)
	}
	if _, err := WriteOutputs(o.OutDir, res); err != nil {
		t.Errorf("WriteOutputs: %v", err)
	}
}
