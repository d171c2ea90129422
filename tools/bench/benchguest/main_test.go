package main

import (
	"strings"
	"testing"
)

func TestStartTicks(t *testing.T) {
	// Field 22 (starttime) is 4711; comm contains a space and a ")".
	fields := []string{"S", "1", "1", "1", "0", "-1", "4194560", "100", "0", "0", "0", "1", "2", "0", "0", "20", "0", "1", "0", "4711", "123"}
	stat := "42 (bench guest)) " + strings.Join(fields, " ")
	got, err := startTicks(stat)
	if err != nil {
		t.Fatalf("startTicks: %v", err)
	}
	if got != 4711 {
		t.Errorf("startTicks = %d, want 4711", got)
	}

	for _, bad := range []string{"no parenthesis", "1 (x) S 1 2", "1 (x) " + strings.Repeat("y ", 20)} {
		if _, err := startTicks(bad); err == nil {
			t.Errorf("startTicks(%q) returned no error", bad)
		}
	}
}
