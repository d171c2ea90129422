package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShimCreateTime(t *testing.T) {
	log := strings.Join([]string{
		`time="2026-12-04T22:01:12.550742342Z" level=info msg="containerd successfully booted in 0.053612s"`,
		`time="2026-12-04T22:01:12.900000000Z" level=info msg="create task" bundle=/b container=c-10 pid=1 source=containerd-kata-shim-v2`,
		`time="2026-12-04T22:01:12.937122155Z" level=info msg="create task" bundle=/b container=c-1 pid=2 source=containerd-kata-shim-v2`,
		`time="2026-12-04T22:01:13.000000000Z" level=info msg="starting sandbox" container=c-2`,
		`time="2026-12-04T22:01:14.000000000Z" level=info msg="create task" container=c-3`,
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "containerd.log")
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		id      string
		want    string
		wantErr string
	}{
		{"c-1", "2026-12-04T22:01:12.937122155Z", ""},
		{"c-10", "2026-12-04T22:01:12.9Z", ""},
		{"c-3", "2026-12-04T22:01:14Z", ""},
		{"c-2", "", "no msg=\"create task\" line"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := shimCreateTime(path, tt.id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("shimCreateTime(%s) error = %v, want one containing %q", tt.id, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := time.Parse(time.RFC3339Nano, tt.want); !got.Equal(want) {
				t.Errorf("shimCreateTime(%s) = %v, want %v", tt.id, got, want)
			}
		})
	}
}

func TestHasField(t *testing.T) {
	tests := []struct {
		line, field string
		want        bool
	}{
		{"a container=x b", " container=x", true},
		{"a container=x", " container=x", true},
		{"a container=xy b", " container=x", false},
		{"a container=xy container=x", " container=x", true},
		{"nothing", " container=x", false},
	}
	for _, tt := range tests {
		if got := hasField(tt.line, tt.field); got != tt.want {
			t.Errorf("hasField(%q, %q) = %v, want %v", tt.line, tt.field, got, tt.want)
		}
	}
}
