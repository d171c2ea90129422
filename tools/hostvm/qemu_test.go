package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestQEMUArgsGolden(t *testing.T) {
	base := vmConfig{
		QEMU:       "qemu-system-riscv64",
		Image:      imageDir("/cache/images/0123456789abcdef"),
		SMP:        2,
		Mem:        "4G",
		Net:        "none",
		BuildDir:   "/repo/build",
		RunDir:     "/cache/runs/run-1",
		RunID:      "run-1",
		ConsoleLog: "/cache/runs/run-1/console.log",
	}
	tests := []struct {
		name   string
		modify func(*vmConfig)
	}{
		{"default", func(*vmConfig) {}},
		{"without-h", func(c *vmConfig) { c.CPUFlags = map[string]string{"h": "false"} }},
		{"aia", func(c *vmConfig) { c.AIA = true }},
		{"user-net-4-harts", func(c *vmConfig) { c.Net = "user"; c.SMP = 4; c.Mem = "2048M" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.modify(&cfg)
			got := strings.Join(qemuArgs(cfg), "\n") + "\n"

			golden := filepath.Join("testdata", "qemu-"+tt.name+".args")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading %s (run go test -update to create it): %v", golden, err)
			}
			if got != string(want) {
				t.Errorf("qemuArgs(%s) differs from %s:\ngot:\n%s\nwant:\n%s", tt.name, golden, got, want)
			}
		})
	}
}

func TestCPUArg(t *testing.T) {
	tests := []struct {
		name  string
		flags map[string]string
		aia   bool
		want  string
	}{
		{"default has H and Sscofpmf", nil, false, "rv64,h=true,sscofpmf=true"},
		{"user turns H off", map[string]string{"h": "false"}, false, "rv64,h=false,sscofpmf=true"},
		{"user turns Sscofpmf off", map[string]string{"sscofpmf": "false"}, false, "rv64,h=true,sscofpmf=false"},
		{"aia adds smaia and ssaia", nil, true, "rv64,h=true,smaia=true,ssaia=true,sscofpmf=true"},
		{"user flags sorted", map[string]string{"sv57": "on", "a": "true"}, false, "rv64,a=true,h=true,sscofpmf=true,sv57=on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuArg(vmConfig{CPUFlags: tt.flags, AIA: tt.aia}); got != tt.want {
				t.Errorf("cpuArg = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKernelCmdline(t *testing.T) {
	got := kernelCmdline("run-42")
	for _, want := range []string{"console=ttyS0", "root=/dev/vda", "hostvm.run=run-42", "panic=-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("kernelCmdline = %q, missing %q", got, want)
		}
	}
	if got := kernelCmdline(""); strings.Contains(got, "hostvm.run") {
		t.Errorf("kernelCmdline without a run = %q, want no hostvm.run", got)
	}
}
