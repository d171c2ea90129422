package virtcontainers

import (
	"strings"
	"testing"
)

func TestTailBufferDefaultSize(t *testing.T) {
	var tb tailBuffer
	if _, err := tb.Write([]byte("first line\n")); err != nil {
		t.Fatal(err)
	}
	if got := tb.String(); got != "first line" {
		t.Errorf("after one write: got %q, want \"first line\"", got)
	}
	if _, err := tb.Write([]byte(strings.Repeat("x", tailBufferSize) + "END\n")); err != nil {
		t.Fatal(err)
	}
	got := tb.String()
	if len(got) > tailBufferSize || !strings.HasSuffix(got, "END") || strings.Contains(got, "first") {
		t.Errorf("after overflow: got %d bytes ending %q, want at most %d bytes ending in END", len(got), got[len(got)-5:], tailBufferSize)
	}
}

func TestTailBufferMax(t *testing.T) {
	b := &tailBuffer{max: 8}
	if _, err := b.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "456789ab" {
		t.Errorf("tailBuffer = %q, want %q", got, "456789ab")
	}
}
