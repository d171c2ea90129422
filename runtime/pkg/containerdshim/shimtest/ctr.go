// Package shimtest drives containerd-shim-kata-v2 through the ctr client,
// as a user does from a shell, and finds what a sandbox leaves on the host.
// The integration tests (containerd under TCG on the build host) and the
// end-to-end tests (the riscv64 host's own containerd under KVM) share it.
package shimtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Runtime is the containerd runtime name that selects the shim.
const Runtime = "io.containerd.kata.v2"

// DefaultAddress is containerd's socket when Ctr.Address is empty.
const DefaultAddress = "/run/containerd/containerd.sock"

// Ctr runs ctr against one containerd and namespace. Its methods report
// failures through their results rather than a testing.T, so that
// goroutines of a test may call them.
type Ctr struct {
	// Address is containerd's socket, or DefaultAddress when empty.
	Address string
	// Namespace is the containerd namespace of every command.
	Namespace string
}

func (c *Ctr) address() string {
	if c.Address == "" {
		return DefaultAddress
	}
	return c.Address
}

// Args returns the ctr command line for args.
func (c *Ctr) Args(args ...string) []string {
	return append([]string{"ctr", "--address", c.address(), "--namespace", c.Namespace}, args...)
}

// Run runs ctr with stdin (none when empty) and returns its combined output
// and exit code. When ctr cannot start or ctx ends first, the exit code is
// -1 and the output ends with the error.
func (c *Ctr) Run(ctx context.Context, stdin string, args ...string) (string, int) {
	argv := c.Args(args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return exitResult(ctx, &out, cmd.Run())
}

// RunTerminal runs ctr with a pseudo-terminal as its standard input and
// output, which `ctr run -t` needs, and returns the terminal's output and
// ctr's exit code as Run does. script(1) from util-linux provides the
// terminal, so the test needs none of its own.
func (c *Ctr) RunTerminal(ctx context.Context, args ...string) (string, int) {
	if _, err := exec.LookPath("script"); err != nil {
		return fmt.Sprintf("script(1) not found (Debian package bsdutils): %v", err), -1
	}
	quoted := make([]string, 0, len(args)+5)
	for _, a := range c.Args(args...) {
		quoted = append(quoted, shellQuote(a))
	}
	// -e returns the exit code of ctr, -q drops script's own messages, and
	// /dev/null discards the typescript file.
	cmd := exec.CommandContext(ctx, "script", "-qec", strings.Join(quoted, " "), "/dev/null")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return exitResult(ctx, &out, cmd.Run())
}

func exitResult(ctx context.Context, out *bytes.Buffer, err error) (string, int) {
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Sprintf("%s\nctr: %v", out, ctx.Err()), -1
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return out.String(), exitErr.ExitCode()
	default:
		return fmt.Sprintf("%s\nctr: %v", out, err), -1
	}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WaitStopped polls `ctr task ls` until task id is STOPPED.
func (c *Ctr) WaitStopped(ctx context.Context, id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var out string
	for {
		out, _ = c.Run(ctx, "", "task", "ls")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 3 && f[0] == id && f[2] == "STOPPED" {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("task %s did not stop within %s; ctr task ls:\n%s", id, timeout, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// signalResend is how often SignalUntilStopped repeats the signal.
const signalResend = 5 * time.Second

// SignalUntilStopped sends signal to task id, again every signalResend,
// until the task stops or timeout passes. The task's process is PID 1 of
// its PID namespace, and the kernel drops a signal that such a process has
// no handler for yet. A signal sent while the program is still starting up
// can therefore be lost, in a Kata guest as with runc on a host.
func (c *Ctr) SignalUntilStopped(ctx context.Context, id, signal string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if out, code := c.Run(ctx, "", "task", "kill", "-s", signal, id); code != 0 {
			// A task that stopped since the last check rejects the signal.
			if c.WaitStopped(ctx, id, 0) == nil {
				return nil
			}
			return fmt.Errorf("ctr task kill -s %s %s: exit %d:\n%s", signal, id, code, out)
		}
		err := c.WaitStopped(ctx, id, min(signalResend, time.Until(deadline)))
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}

// nonZeroExitRE matches the warning with which `ctr task delete` (containerd
// 1.6 and 1.7) reports a task's non-zero exit status. It prints nothing for
// status 0, and exits 0 in both cases.
var nonZeroExitRE = regexp.MustCompile(`task \S+ exit with non-zero exit code (\d+)`)

// DeleteTask deletes the stopped task id and returns its exit status.
func (c *Ctr) DeleteTask(ctx context.Context, id string) (int, error) {
	out, code := c.Run(ctx, "", "task", "delete", id)
	if code != 0 {
		return -1, fmt.Errorf("ctr task delete %s: exit %d:\n%s", id, code, out)
	}
	m := nonZeroExitRE.FindStringSubmatch(out)
	if m == nil {
		return 0, nil
	}
	return strconv.Atoi(m[1])
}

// Remove kills and deletes task and container id, whatever state they are
// in. It is for test cleanup and ignores errors, because any of the steps
// may find nothing to do.
func (c *Ctr) Remove(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c.Run(ctx, "", "task", "kill", "-s", "SIGKILL", id)
	c.Run(ctx, "", "task", "delete", "--force", id)
	c.Run(ctx, "", "container", "delete", id)
}

// ContainerExists reports whether containerd still has a container record
// for id.
func (c *Ctr) ContainerExists(ctx context.Context, id string) (bool, error) {
	out, code := c.Run(ctx, "", "container", "ls", "-q")
	if code != 0 {
		return false, fmt.Errorf("ctr container ls: exit %d:\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == id {
			return true, nil
		}
	}
	return false, nil
}
