package virtcontainers

import (
	"strings"
	"sync"
)

// tailBufferSize is how much of a VMM's stderr a tailBuffer keeps when its
// max is zero: enough for the last few messages to quote in an error.
const tailBufferSize = 1024

// tailBuffer is an io.Writer that keeps the last max bytes written to it
// (tailBufferSize when max is zero), so that a failure can quote the end of a
// VMM's stderr. It is safe for concurrent use.
type tailBuffer struct {
	max int

	mu  sync.Mutex // guards buf
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	limit := t.max
	if limit <= 0 {
		limit = tailBufferSize
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - limit; over > 0 {
		t.buf = append([]byte(nil), t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes without surrounding white space.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
