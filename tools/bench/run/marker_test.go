package run

import (
	"strings"
	"testing"
	"time"
)

func TestParseMarker(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    guestTimes
		wantErr string
	}{
		{"valid", "BENCH-MARK uptime_ns=6217000000 age_ns=93000000", guestTimes{Uptime: 6217 * time.Millisecond, ProcessAge: 93 * time.Millisecond}, ""},
		{"trailing CR and unknown field", "BENCH-MARK age_ns=0 extra=5 uptime_ns=1\r", guestTimes{Uptime: 1}, ""},
		{"other line", "hello", guestTimes{}, "want a line starting with"},
		{"missing age", "BENCH-MARK uptime_ns=1", guestTimes{}, "want both"},
		{"not key=value", "BENCH-MARK uptime_ns=1 age_ns", guestTimes{}, "not key=value"},
		{"negative", "BENCH-MARK uptime_ns=-1 age_ns=1", guestTimes{}, "not a count"},
		{"not a number", "BENCH-MARK uptime_ns=1s age_ns=1", guestTimes{}, "not a count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMarker(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseMarker(%q) error = %v, want one containing %q", tt.line, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseMarker(%q): %v", tt.line, err)
			}
			if got != tt.want {
				t.Errorf("parseMarker(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}
