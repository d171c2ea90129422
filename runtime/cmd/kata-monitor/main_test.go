package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunRejectsInvalidFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"log level", []string{"-log-level", "loud"}, `invalid -log-level "loud"`},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"-no-such-flag"}, "flag provided but not defined"},
		{"tcp endpoint", []string{"-runtime-endpoint", "tcp://127.0.0.1:1", "-listen-address", "127.0.0.1:0"}, "invalid runtime endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(tt.args, &stderr); got != 2 {
				t.Errorf("exit code: got %d, want 2", got)
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

func TestRunVersion(t *testing.T) {
	var stderr bytes.Buffer
	if got := run([]string{"-version"}, &stderr); got != 0 {
		t.Errorf("exit code: got %d, want 0; stderr: %s", got, stderr.String())
	}
}

func TestRunListenFailure(t *testing.T) {
	var stderr bytes.Buffer
	if got := run([]string{"-listen-address", "256.0.0.1:1", "-runtime-endpoint", ""}, &stderr); got != 1 {
		t.Errorf("exit code: got %d, want 1", got)
	}
	if !strings.Contains(stderr.String(), "cannot listen") {
		t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), "cannot listen")
	}
}
