package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCheckOOMQueuesIncrease(t *testing.T) {
	s, _ := newTestSandbox(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "memory.events")
	write := func(kills string) {
		if err := os.WriteFile(events, []byte("low 0\nhigh 0\nmax 4\noom 2\noom_kill "+kills+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	last := uint64(1)
	write("1")
	s.checkOOM("c1", dir, &last)
	write("3")
	s.checkOOM("c1", dir, &last)
	if last != 3 {
		t.Errorf("last oom_kill count = %d, want 3", last)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	id, err := s.WaitOOMEvent(ctx)
	if err != nil || id != "c1" {
		t.Fatalf("WaitOOMEvent = %q, %v, want c1", id, err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.WaitOOMEvent(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second WaitOOMEvent = %v, want DeadlineExceeded: one increase is one event", err)
	}
}
