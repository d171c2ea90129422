package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseCPUFlags(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr string
	}{
		{"", map[string]string{}, ""},
		{"h=false", map[string]string{"h": "false"}, ""},
		{"h=false,sv57=on", map[string]string{"h": "false", "sv57": "on"}, ""},
		{"h", nil, "want NAME=VALUE"},
		{"h=", nil, "want NAME=VALUE"},
		{"H=false", nil, "invalid CPU flag name"},
		{"h=false,,", nil, "want NAME=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseCPUFlags(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseCPUFlags(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCPUFlags(%q) error = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseCPUFlags(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseRunArgs(t *testing.T) {
	r, err := parseRunArgs([]string{"--cpu-flags", "h=false", "--smp", "4", "--mem", "2G", "--timeout", "90s",
		"--env", "A=1", "--env", "B=x y", "--cache", "/c", "--share", "/s", "--", "ls", "-l", "/"})
	if err != nil {
		t.Fatalf("parseRunArgs: %v", err)
	}
	if got, want := r.command, []string{"ls", "-l", "/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("command = %q, want %q", got, want)
	}
	if r.common.cache != "/c" {
		t.Errorf("cache = %q, want /c", r.common.cache)
	}
	opts, err := r.vm.options("/repo")
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	if opts.SMP != 4 || opts.Mem != "2G" || opts.Timeout != 90*time.Second {
		t.Errorf("smp, mem, timeout = %d, %s, %s; want 4, 2G, 1m30s", opts.SMP, opts.Mem, opts.Timeout)
	}
	if got, want := opts.CPUFlags, map[string]string{"h": "false"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cpu flags = %v, want %v", got, want)
	}
	if got, want := opts.Env, map[string]string{"A": "1", "B": "x y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("env = %v, want %v", got, want)
	}
	if opts.ShareDir != "/s" {
		t.Errorf("share = %q, want /s", opts.ShareDir)
	}
}

func TestParseRunArgsDefaults(t *testing.T) {
	r, err := parseRunArgs([]string{"--", "true"})
	if err != nil {
		t.Fatalf("parseRunArgs: %v", err)
	}
	r.common.resolve("/repo")
	opts, err := r.vm.options("/repo")
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	if r.common.cache != "/repo/build/hostvm" {
		t.Errorf("cache = %q, want /repo/build/hostvm", r.common.cache)
	}
	if opts.ShareDir != "/repo/build" {
		t.Errorf("share = %q, want /repo/build", opts.ShareDir)
	}
	if opts.Net != "none" || opts.AIA || opts.SMP != 2 || opts.Mem != "4G" {
		t.Errorf("defaults net=%s aia=%v smp=%d mem=%s, want none false 2 4G", opts.Net, opts.AIA, opts.SMP, opts.Mem)
	}
}

func TestParseRunArgsInvalid(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no command", []string{"--smp", "2"}, "missing COMMAND"},
		{"bad env", []string{"--env", "1A=x", "--", "true"}, "NAME=VALUE"},
		{"unknown flag", []string{"--bogus", "--", "true"}, "not defined"},
		{"bad cpu flag", []string{"--cpu-flags", "h", "--", "true"}, "want NAME=VALUE"},
		{"bad smp", []string{"--smp", "0", "--", "true"}, "invalid --smp"},
		{"bad mem", []string{"--mem", "4T", "--", "true"}, "invalid --mem"},
		{"bad net", []string{"--net", "tap", "--", "true"}, "invalid --net"},
		{"bad timeout", []string{"--timeout", "-1s", "--", "true"}, "invalid --timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRunArgs(tt.args)
			if err == nil {
				_, err = r.vm.options("/repo")
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseBuildArgs(t *testing.T) {
	b, err := parseBuildArgs([]string{"--cache", "/c", "--mirror", "http://m/debian", "--force"})
	if err != nil {
		t.Fatalf("parseBuildArgs: %v", err)
	}
	if b.common.cache != "/c" || b.common.mirror != "http://m/debian" || !b.force {
		t.Errorf("got cache=%q mirror=%q force=%v", b.common.cache, b.common.mirror, b.force)
	}
	if _, err := parseBuildArgs([]string{"extra"}); err == nil {
		t.Error("parseBuildArgs(extra) succeeded, want an error for the extra argument")
	}
	if _, err := parseBuildArgs([]string{"-h"}); !errors.Is(err, errHelp) {
		t.Errorf("parseBuildArgs(-h) error = %v, want flag.ErrHelp", err)
	}
}

func TestCommandScript(t *testing.T) {
	got := commandScript([]string{"/mnt/build/riscv64/e2e.test", "-test.run=It's"}, map[string]string{"B": "2", "A": "x y"})
	want := "# Written by hostvm; run by /usr/local/sbin/hostvm-run in the guest.\n" +
		"export HOSTVM_BUILD_DIR=/mnt/build HOSTVM_RUN_DIR=/mnt/run HOSTVM_OUT_DIR=/mnt/run/out\n" +
		"export A='x y'\n" +
		"export B='2'\n" +
		"exec '/mnt/build/riscv64/e2e.test' '-test.run=It'\\''s'\n"
	if got != want {
		t.Errorf("commandScript =\n%s\nwant\n%s", got, want)
	}
}

func TestE2EPasses(t *testing.T) {
	passes := e2ePasses()
	if len(passes) != 2 {
		t.Fatalf("got %d passes, want 2", len(passes))
	}
	if passes[0].cpuFlags["h"] == "false" || passes[0].run != "" {
		t.Errorf("first pass = %+v, want the whole suite with H", passes[0])
	}
	if passes[1].cpuFlags["h"] != "false" || passes[1].env["KATA_E2E_HOST_H"] != "absent" || passes[1].run == "" {
		t.Errorf("second pass = %+v, want h=false, KATA_E2E_HOST_H=absent and a -test.run filter", passes[1])
	}
	cmd := e2eCommand(passes[1], 20*time.Minute)
	if got := strings.Join(cmd, " "); got != "/mnt/build/riscv64/e2e.test -test.v -test.count=1 -test.timeout=20m0s -test.run=WithoutH" {
		t.Errorf("e2eCommand = %q", got)
	}
}
