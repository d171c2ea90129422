package reaper

import (
	"context"
	"os/exec"
	"testing"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func TestCombinedOutputExitStatus(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER not available: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := New(logrus.NewEntry(logrus.New()))
	go r.Run(ctx)

	tests := []struct {
		name       string
		script     string
		wantStatus int
		wantOutput string
	}{
		{name: "success", script: "echo out", wantStatus: 0, wantOutput: "out\n"},
		{name: "exit 42", script: "echo err >&2; exit 42", wantStatus: 42, wantOutput: "err\n"},
		{name: "killed by SIGTERM", script: "kill -TERM $$", wantStatus: 128 + 15},
		{name: "orphan grandchild", script: "(sleep 0.1 &) ; exit 3", wantStatus: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, status, err := r.CombinedOutput(exec.Command("/bin/sh", "-c", tt.script))
			if err != nil {
				t.Fatalf("CombinedOutput: %v", err)
			}
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
			if string(out) != tt.wantOutput {
				t.Errorf("output = %q, want %q", out, tt.wantOutput)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name string
		ws   unix.WaitStatus
		want int
	}{
		{name: "exit 0", ws: 0, want: 0},
		{name: "exit 42", ws: 42 << 8, want: 42},
		{name: "SIGKILL", ws: unix.WaitStatus(unix.SIGKILL), want: 137},
	}
	for _, tt := range tests {
		if got := ExitStatus(tt.ws); got != tt.want {
			t.Errorf("%s: ExitStatus(%#x) = %d, want %d", tt.name, uint32(tt.ws), got, tt.want)
		}
	}
}
