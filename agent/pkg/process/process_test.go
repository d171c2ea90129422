package process

import (
	"context"
	"errors"
	"testing"
	"time"

	runc "github.com/containerd/go-runc"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

// newPipeProcess returns a process on pipes and the runc.IO whose child
// ends a test writes to and reads from in place of a container process.
func newPipeProcess(t *testing.T) (*Process, runc.IO) {
	t.Helper()
	pipes, err := runc.NewPipeIO(-1, -1)
	if err != nil {
		t.Fatalf("NewPipeIO: %v", err)
	}
	p := NewPipes("c1", "e1", pipes)
	t.Cleanup(func() { _ = p.Close() })
	return p, pipes
}

func TestReadStdoutDrainsBeforeEOF(t *testing.T) {
	p, pipes := newPipeProcess(t)
	child := childEnds(t, pipes)

	if _, err := child.stdout.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	_ = child.stdout.Close()

	got, err := p.ReadStdout(context.Background(), 5)
	if err != nil {
		t.Fatalf("first ReadStdout: %v", err)
	}
	if string(got) != "hello" {
		t.Errorf("first ReadStdout = %q, want %q", got, "hello")
	}

	got, err = p.ReadStdout(context.Background(), 0)
	if err != nil {
		t.Fatalf("second ReadStdout: %v", err)
	}
	if string(got) != " world" {
		t.Errorf("second ReadStdout = %q, want %q", got, " world")
	}

	_, err = p.ReadStdout(context.Background(), 0)
	if !errors.Is(err, errdefs.ErrEOF) {
		t.Errorf("ReadStdout after close = %v, want ErrEOF", err)
	}
}

func TestWriteStdinAfterClose(t *testing.T) {
	p, pipes := newPipeProcess(t)
	child := childEnds(t, pipes)

	n, err := p.WriteStdin([]byte("abc"))
	if err != nil || n != 3 {
		t.Fatalf("WriteStdin = %d, %v, want 3, nil", n, err)
	}
	if err := p.CloseStdin(); err != nil {
		t.Fatalf("CloseStdin: %v", err)
	}

	buf := make([]byte, 16)
	got, _ := child.stdin.Read(buf)
	if string(buf[:got]) != "abc" {
		t.Errorf("child read %q, want %q", buf[:got], "abc")
	}
	if _, err := child.stdin.Read(buf); err == nil {
		t.Errorf("child read after CloseStdin succeeded, want EOF")
	}

	_, err = p.WriteStdin([]byte("x"))
	if !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("WriteStdin after CloseStdin = %v, want ErrFailedPrecondition", err)
	}
}

func TestResizeWithoutTerminal(t *testing.T) {
	p, _ := newPipeProcess(t)
	if err := p.Resize(24, 80); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("Resize = %v, want ErrFailedPrecondition", err)
	}
}

func TestSetExitedOnce(t *testing.T) {
	p, _ := newPipeProcess(t)
	if p.HasExited() {
		t.Fatalf("HasExited before SetExited = true")
	}
	p.SetExited(42)
	p.SetExited(1)
	<-p.Exited()
	if p.Status() != 42 {
		t.Errorf("Status = %d, want 42 (the first exit counts)", p.Status())
	}
}

func TestDrainedAfterBothStreamsEOF(t *testing.T) {
	p, pipes := newPipeProcess(t)
	child := childEnds(t, pipes)
	_ = child.stdout.Close()
	_ = child.stderr.Close()

	if _, err := p.ReadStdout(context.Background(), 0); !errors.Is(err, errdefs.ErrEOF) {
		t.Fatalf("ReadStdout = %v, want ErrEOF", err)
	}
	select {
	case <-p.Drained():
		t.Fatalf("Drained closed with stderr still unread")
	default:
	}

	if _, err := p.ReadStderr(context.Background(), 0); !errors.Is(err, errdefs.ErrEOF) {
		t.Fatalf("ReadStderr = %v, want ErrEOF", err)
	}
	select {
	case <-p.Drained():
	default:
		t.Errorf("Drained still open after both streams reached EOF")
	}

	// A second EOF must not close the channel again.
	if _, err := p.ReadStdout(context.Background(), 0); !errors.Is(err, errdefs.ErrEOF) {
		t.Errorf("second ReadStdout = %v, want ErrEOF", err)
	}
}

func TestReadStdoutCancelLosesNothing(t *testing.T) {
	p, pipes := newPipeProcess(t)
	child := childEnds(t, pipes)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.ReadStdout(ctx, 0)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled ReadStdout = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("ReadStdout did not return after its context was cancelled")
	}

	if _, err := child.stdout.Write([]byte("kept")); err != nil {
		t.Fatal(err)
	}
	got, err := p.ReadStdout(context.Background(), 0)
	if err != nil || string(got) != "kept" {
		t.Errorf("ReadStdout after a cancelled read = %q, %v, want %q", got, err, "kept")
	}
}
