package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kata-riscv64/kata-riscv64/tools/bench/run"
)

func TestSelectModes(t *testing.T) {
	tests := []struct {
		name                      string
		mode                      string
		n, bareN, coldN, warmN    int
		wantBare, wantCold, wantW int
		wantErr                   string
	}{
		{"all uses n", "all", 5, -1, -1, -1, 5, 5, 5, ""},
		{"all with overrides", "all", 100, 10, 20, 50, 10, 20, 50, ""},
		{"cold only", "cold", 7, 3, -1, -1, 0, 7, 0, ""},
		{"bare only", "bare", 2, -1, -1, -1, 2, 0, 0, ""},
		{"warm only", "warm", 9, -1, -1, -1, 0, 0, 9, ""},
		{"unknown", "hot", 1, -1, -1, -1, 0, 0, 0, "unknown mode"},
		{"nothing", "all", 0, -1, -1, -1, 0, 0, 0, "nothing to run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := run.DefaultOptions("/repo")
			err := selectModes(&o, tt.mode, tt.n, tt.bareN, tt.coldN, tt.warmN)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("selectModes error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.BareRuns != tt.wantBare || o.ColdRuns != tt.wantCold || o.WarmRuns != tt.wantW {
				t.Errorf("runs bare/cold/warm = %d/%d/%d, want %d/%d/%d", o.BareRuns, o.ColdRuns, o.WarmRuns, tt.wantBare, tt.wantCold, tt.wantW)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code, err := run1([]string{"-version"}, "1.0", "abc", &stdout, &stderr)
	if code != 0 || err != nil {
		t.Fatalf("run1(-version) = %d, %v; want 0, nil", code, err)
	}
	if got, want := stdout.String(), "bench 1.0 (commit abc)\n"; got != want {
		t.Errorf("version output = %q, want %q", got, want)
	}
}

func TestRunRejectsBadUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no mode", nil, "expected one mode"},
		{"unknown mode", []string{"hot"}, "unknown mode"},
		{"bad accelerator", []string{"-accel", "hvf", "-n", "1", "bare"}, "invalid accelerator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code, err := run1(tt.args, "1.0", "abc", &stdout, &stderr)
			if code == 0 || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run1(%q) = %d, %v; want a non-zero code and an error containing %q", tt.args, code, err, tt.wantErr)
			}
		})
	}
}
