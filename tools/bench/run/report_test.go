package run

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sampleResults() *Results {
	bare, cold, warm := newBareMode(), newColdMode(), newWarmMode()
	for i := 1; i <= 4; i++ {
		d := time.Duration(i) * time.Second
		bare.add(metricAgentReady, 8*time.Second+d)
		bare.add(metricStarted, 400*time.Millisecond)
		bare.add(metricStop, 2*time.Second)
		cold.add(metricFirstOutput, 10*time.Second+d)
		cold.add(metricExit, 11*time.Second+d)
		cold.add(metricShimOutput, 9*time.Second+d)
		cold.add(metricUptime, 6*time.Second+d)
		cold.add(metricAge, time.Second)
		warm.add(metricFirstOutput, 500*time.Millisecond+d/10)
		warm.add(metricExit, 600*time.Millisecond+d/10)
		warm.add(metricAge, time.Duration(i-1)*10*time.Millisecond) // one zero sample
	}
	r := &Results{
		Host:   Host{Arch: "amd64", CPUs: 2, Accelerator: "tcg"},
		Modes:  []*Mode{bare, cold, warm},
		Memory: Memory{Shim: &memory{RSSKiB: 14 * 1024, HWMKiB: 15 * 1024}},
	}
	for _, m := range r.Modes {
		m.Runs = 4
		m.summarize()
	}
	r.computeRatios()
	return r
}

func TestComputeRatios(t *testing.T) {
	r := sampleResults()
	if r.Ratios == nil {
		t.Fatal("Ratios not set with bare and cold samples")
	}
	// cold first output p50 = 12.5 s, bare agent ready p50 = 10.5 s.
	if want := 12.5 / 10.5; math.Abs(r.Ratios.ColdBareP50-want) > 1e-9 {
		t.Errorf("cold/bare p50 = %v, want %v", r.Ratios.ColdBareP50, want)
	}
	// shim Create to first output p50 = 11.5 s.
	if want := 11.5 / 10.5; math.Abs(r.Ratios.ShimBareP50-want) > 1e-9 {
		t.Errorf("shim cold/bare p50 = %v, want %v", r.Ratios.ShimBareP50, want)
	}
	if r.Ratios.Target != TargetColdBareRatio {
		t.Errorf("target = %v, want %v", r.Ratios.Target, TargetColdBareRatio)
	}

	noBare := &Results{Modes: []*Mode{newColdMode()}}
	noBare.computeRatios()
	if noBare.Ratios != nil {
		t.Errorf("Ratios = %+v without a bare mode, want nil", noBare.Ratios)
	}
}

func TestWriteOutputs(t *testing.T) {
	dir := t.TempDir()
	files, err := WriteOutputs(dir, sampleResults())
	if err != nil {
		t.Fatalf("WriteOutputs: %v", err)
	}
	for _, name := range []string{"results.json", "results.txt", "cold-start.svg", "warm-exec.svg"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s not written: %v (wrote %v)", name, err, files)
		}
	}

	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("results.json does not decode: %v", err)
	}
	if len(back.Modes) != 3 || back.Modes[1].Name != "cold" || back.Modes[1].Metrics[0].Summary.P50 != 12500*time.Millisecond {
		t.Errorf("results.json decodes to modes %+v, want bare, cold (first-output p50 12.5 s), warm", back.Modes)
	}

	svg, err := os.ReadFile(filepath.Join(dir, "warm-exec.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "1 zero samples left out") {
		t.Errorf("warm plot does not say that the zero process age was left out")
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	r := sampleResults()
	r.Modes[2].Failures = []string{"run 3: timed out\nstdout:\nsome output"}
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"client_first_output",
		"12.500s",
		"cold/bare: p50 1.19",
		"cold from the shim's Create/bare: p50 1.10",
		"target at most 1.10",
		"shim RSS: 14.0 MiB, peak 15.0 MiB (target at most 25 MiB)",
		"warm: 1 failed runs",
		"run 3: timed out",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "some output") {
		t.Errorf("table shows a failed run's output, want only the error's first line:\n%s", out)
	}
}
