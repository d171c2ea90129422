package virtcontainers

import (
	"strings"
	"testing"
)

func TestTailBufferDefaultSize(t *testing.T) {
	var tb tailBuffer
	tb.Write([]byte("first line\n"))
	if got := tb.String(); got != "first line" {
		t.Errorf("after one write: got %q, want \"first line\"", got)
	}
	tb.Write([]byte(strings.Repeat("x", tailBufferSize) + "END\n"))
	got := tb.String()
	if len(got) > tailBufferSize || !strings.HasSuffix(got, "END") || strings.Contains(got, "first") {
		t.Errorf("after overflow: got %d bytes ending %q, want at most %d bytes ending in END", len(got), got[len(got)-5:], tailBufferSize)
	}
}

func TestTailBufferMax(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("0123456789"))
	b.Write([]byte("ab"))
	if got := b.String(); got != "456789ab" {
		t.Errorf("tailBuffer = %q, want %q", got, "456789ab")
	}
}
