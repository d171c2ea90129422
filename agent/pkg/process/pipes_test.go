package process

import (
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	runc "github.com/containerd/go-runc"
)

// childPipes are the ends of a runc.IO that the container process would get.
type childPipes struct {
	stdin  *os.File
	stdout *os.File
	stderr *os.File
}

// childEnds takes the child's ends out of pipes the way go-runc hands them to
// the runtime command (through exec.Cmd), and closes them in the parent as
// go-runc does after the command started.
func childEnds(t *testing.T, pipes runc.IO) childPipes {
	t.Helper()
	cmd := exec.Command("true")
	pipes.Set(cmd)
	c := childPipes{
		stdin:  dup(t, cmd.Stdin.(*os.File)),
		stdout: dup(t, cmd.Stdout.(*os.File)),
		stderr: dup(t, cmd.Stderr.(*os.File)),
	}
	if sc, ok := pipes.(runc.StartCloser); ok {
		if err := sc.CloseAfterStart(); err != nil {
			t.Fatalf("CloseAfterStart: %v", err)
		}
	}
	t.Cleanup(func() {
		_ = c.stdin.Close()
		_ = c.stdout.Close()
		_ = c.stderr.Close()
	})
	return c
}

func dup(t *testing.T, f *os.File) *os.File {
	t.Helper()
	fd, err := syscallDup(int(f.Fd()))
	if err != nil {
		t.Fatalf("dup %s: %v", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name())
}

func syscallDup(fd int) (int, error) { return unix.Dup(fd) }
