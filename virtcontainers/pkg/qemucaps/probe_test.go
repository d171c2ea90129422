package qemucaps

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const systemQEMU = "/usr/bin/qemu-system-riscv64"

func TestParseVersion(t *testing.T) {
	real72, err := os.ReadFile(filepath.Join("testdata", "qemu-7.2-version.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		output  string
		want    Version
		wantErr bool
	}{
		{"Debian 12 QEMU 7.2", string(real72), Version{7, 2, 22}, false},
		{"Ubuntu 24.04 QEMU 8.2", "QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)\n", Version{8, 2, 2}, false},
		{"development build", "QEMU emulator version 9.0.50 (v9.0.0-1388-g80e8f06021)\n", Version{9, 0, 50}, false},
		{"no micro", "QEMU emulator version 10.1\n", Version{10, 1, 0}, false},
		{"not QEMU", "Firecracker v1.10.1\n", Version{}, true},
		{"empty", "", Version{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVersion(tt.output)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVersion error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseVersion = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b Version
		want bool
	}{
		{Version{6, 2, 0}, Version{7, 0, 0}, true},
		{Version{7, 0, 0}, Version{7, 0, 0}, false},
		{Version{7, 2, 22}, Version{7, 10, 0}, true},
		{Version{8, 2, 0}, Version{7, 2, 22}, false},
		{Version{7, 2, 1}, Version{7, 2, 2}, true},
	}
	for _, tt := range tests {
		if got := tt.a.Less(tt.b); got != tt.want {
			t.Errorf("%v.Less(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestParseAIAModes(t *testing.T) {
	real72, err := os.ReadFile(filepath.Join("testdata", "qemu-7.2-virt-help.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		help string
		want []string
	}{
		{"QEMU 7.2 virt,help", string(real72), []string{"none", "aplic", "aplic-imsic"}},
		{"no aia property", "virt-machine options:\n  aclint=<bool>          - Set on/off to enable/disable emulating ACLINT devices\n", nil},
		{"aia without a value list", "  aia=<string>           - Set type of AIA interrupt controller\n", nil},
		{"two values with or", "  aia=<string> - AIA type. Valid values are none or aplic.\n", []string{"none", "aplic"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseAIAModes(tt.help); !slices.Equal(got, tt.want) {
				t.Errorf("ParseAIAModes = %q, want %q", got, tt.want)
			}
		})
	}
}

// fakeQEMU writes a shell script that prints versionOutput for --version and
// helpOutput for -machine virt,help, and fails "-sandbox on" unless seccomp.
func fakeQEMU(t *testing.T, versionOutput, helpOutput string, seccomp bool) string {
	t.Helper()
	sandbox := `echo "-sandbox support is not enabled in this QEMU binary" >&2; exit 1`
	if seccomp {
		sandbox = `echo "` + versionOutput + `"; exit 0`
	}
	script := "#!/bin/sh\ncase \"$1\" in\n" +
		"--version) printf '%s\\n' '" + versionOutput + "' ;;\n" +
		"-machine) printf '%s\\n' '" + helpOutput + "' ;;\n" +
		"-sandbox) " + sandbox + " ;;\n" +
		"*) echo \"unexpected arguments: $*\" >&2; exit 1 ;;\nesac\n"
	path := filepath.Join(t.TempDir(), "qemu-system-riscv64")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProbeFakeBinary(t *testing.T) {
	ctx := context.Background()
	path := fakeQEMU(t, "QEMU emulator version 6.2.0 (Debian 1:6.2+dfsg-2ubuntu6)",
		"virt-machine options:\n  aclint=<bool> - Set on/off to enable/disable emulating ACLINT devices", false)

	caps, err := Probe(ctx, path)
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if caps.Version != (Version{6, 2, 0}) {
		t.Errorf("Version = %v, want 6.2.0", caps.Version)
	}
	if len(caps.AIAModes) != 0 {
		t.Errorf("AIAModes = %q, want none", caps.AIAModes)
	}
	if caps.Seccomp {
		t.Error("Seccomp = true for a binary that rejects -sandbox")
	}
	err = caps.CheckMinVersion()
	if err == nil || !strings.Contains(err.Error(), "6.2.0") || !strings.Contains(err.Error(), "7.0.0") {
		t.Errorf("CheckMinVersion = %v, want an error naming 6.2.0 and 7.0.0", err)
	}
}

func TestProbeErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "qemu-system-riscv64")
	if _, err := Probe(ctx, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Probe of a missing binary: %v, want an error naming %s", err, missing)
	}

	notQEMU := fakeQEMU(t, "Firecracker v1.10.1", "", false)
	if _, err := Probe(ctx, notQEMU); err == nil || !strings.Contains(err.Error(), "Firecracker v1.10.1") {
		t.Errorf("Probe of a non-QEMU binary: %v, want an error quoting its output", err)
	}
}

func TestProbeSystemQEMU(t *testing.T) {
	if _, err := os.Stat(systemQEMU); err != nil {
		t.Skipf("needs %s (Debian package qemu-system-misc): %v", systemQEMU, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	caps, err := Probe(ctx, systemQEMU)
	if err != nil {
		t.Fatalf("Probe(%s): %v", systemQEMU, err)
	}
	if err := caps.CheckMinVersion(); err != nil {
		t.Errorf("CheckMinVersion: %v", err)
	}
	if !strings.HasPrefix(caps.VersionLine, "QEMU emulator version") {
		t.Errorf("VersionLine = %q, want the --version line", caps.VersionLine)
	}
	for _, mode := range []string{"none", "aplic", "aplic-imsic"} {
		if !caps.SupportsAIA(mode) {
			t.Errorf("SupportsAIA(%q) = false, AIAModes %q", mode, caps.AIAModes)
		}
	}
	if caps.SupportsAIA("auto") {
		t.Error("SupportsAIA(\"auto\") = true, but auto is this runtime's value, not QEMU's")
	}
	if !caps.Seccomp {
		t.Errorf("Seccomp = false, but Debian builds %s with seccomp", systemQEMU)
	}
}
