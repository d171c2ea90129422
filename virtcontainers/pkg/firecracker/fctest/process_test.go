package fctest

import (
	"bytes"
	"strings"
	"testing"
)

func TestMainRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no api socket", []string{"--id", "sb1"}, "--api-sock is required"},
		{"id with underscore", []string{"--api-sock", "/nonexistent/api.sock", "--id", "pod_1"}, `invalid --id "pod_1"`},
		{"id of 65 characters", []string{"--api-sock", "/nonexistent/api.sock", "--id", strings.Repeat("a", 65)}, "invalid --id"},
		{"unknown flag", []string{"--api-sock", "/nonexistent/api.sock", "--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Main(tt.args, &stdout, &stderr); code != 153 {
				t.Errorf("Main(%q): got exit status %d, want 153", tt.args, code)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("Main(%q) stderr: got %q, want it to contain %q", tt.args, stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestMainVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main([]string{"--version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("Main(--version): got exit status %d (%s), want 0", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "Firecracker v1.12.0") {
		t.Errorf("Main(--version) stdout: got %q, want a line starting with \"Firecracker v1.12.0\"", stdout.String())
	}
}

func TestJailerMainRejectsBadArguments(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad id", []string{"--id", "a.b", "--exec-file", "/bin/true", "--uid", "0", "--gid", "0"}, `invalid --id "a.b"`},
		{"no uid", []string{"--id", "sb1", "--exec-file", "/bin/true", "--gid", "0"}, "are required"},
		{"no chroot", []string{"--id", "sb1", "--exec-file", "/bin/true", "--uid", "0", "--gid", "0", "--chroot-base-dir", root}, "chroot directory " + root + "/true/sb1/root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := JailerMain(tt.args, &stderr); code != 1 {
				t.Errorf("JailerMain(%q): got exit status %d, want 1", tt.args, code)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("JailerMain(%q) stderr: got %q, want it to contain %q", tt.args, stderr.String(), tt.wantErr)
			}
		})
	}
}
