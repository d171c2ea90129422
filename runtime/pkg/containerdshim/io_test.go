package containerdshim

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// guestStdin records what the shim copies to a guest process's stdin.
type guestStdin struct {
	mu     sync.Mutex
	data   bytes.Buffer
	closed bool
}

func (g *guestStdin) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.data.Write(p)
}

func (g *guestStdin) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return nil
}

func (g *guestStdin) snapshot() (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.data.String(), g.closed
}

// TestCloseIOKeepsBufferedStdin writes stdin into the fifo and closes the
// writer before CloseIO, as ctr does, and checks that the data still
// reaches the guest process before its stdin closes.
func TestCloseIOKeepsBufferedStdin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stdin")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	stdin := &guestStdin{}
	p := &process{containerID: "c1", stdio: stdio{stdin: path}}
	streams := vc.ProcessStreams{Stdin: stdin, Stdout: strings.NewReader(""), Stderr: strings.NewReader("")}

	pio, err := startIO(context.Background(), logrus.NewEntry(logrus.New()), p, streams)
	if err != nil {
		t.Fatal(err)
	}

	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Repeat("line of stdin\n", 1000)
	if _, err := io.WriteString(w, payload); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	pio.finishStdin()
	if waited := time.Since(start); waited >= stdinDrainTimeout {
		t.Errorf("CloseIO waited %v, the drain timeout, although the writer had closed", waited)
	}

	got, closed := stdin.snapshot()
	if got != payload {
		t.Errorf("guest stdin got %d bytes, want the %d written", len(got), len(payload))
	}
	if !closed {
		t.Error("guest stdin not closed after CloseIO")
	}
}
