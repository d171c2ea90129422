package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Names the session uses in its private containerd.
const (
	namespace   = "kata-bench"
	runtimeName = "io.containerd.kata.v2"
)

// containerdStartTimeout bounds the wait for a new containerd to respond.
const containerdStartTimeout = 30 * time.Second

// cleanupTimeout bounds the removal of one container at the end of a run or
// of the session: a task kill, a forced task delete and a container delete,
// each of which may wait for a VM to stop under TCG.
const cleanupTimeout = 2 * time.Minute

// stack is a private containerd (its own root, state and socket, the CRI
// plugin disabled) with the built shim on its PATH.
type stack struct {
	dir        string
	address    string
	kataConfig string
	rootfs     string
	ctrPath    string
	ctd        *exec.Cmd
	ctdExited  chan struct{}
	logPath    string
}

// startStack starts containerd in dir and waits until it responds to ctr.
func startStack(ctx context.Context, a assets, dir, kataConfig, rootfs string) (*stack, error) {
	s := &stack{
		dir:        dir,
		address:    filepath.Join(dir, "containerd.sock"),
		kataConfig: kataConfig,
		rootfs:     rootfs,
		ctrPath:    a.ctr,
		logPath:    filepath.Join(dir, "containerd.log"),
	}

	ctdConfig := filepath.Join(dir, "containerd.toml")
	conf := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), s.address)
	if err := os.WriteFile(ctdConfig, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("writing the containerd configuration: %w", err)
	}

	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the containerd log: %w", err)
	}
	defer logFile.Close()

	s.ctd = exec.Command(a.containerd, "--config", ctdConfig)
	s.ctd.Env = append(os.Environ(), "PATH="+a.shimDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	s.ctd.Stdout, s.ctd.Stderr = logFile, logFile
	// Its own process group keeps a Ctrl-C in the terminal from stopping
	// containerd before the session has removed its sandboxes.
	s.ctd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.ctd.Start(); err != nil {
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	s.ctdExited = make(chan struct{})
	go func() {
		_ = s.ctd.Wait()
		close(s.ctdExited)
	}()

	deadline := time.Now().Add(containerdStartTimeout)
	for {
		if _, err := s.ctr(ctx, "version"); err == nil {
			return s, nil
		}
		select {
		case <-s.ctdExited:
			return nil, fmt.Errorf("containerd exited during start-up; see %s", s.logPath)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("containerd did not respond within %v; see its log %s", containerdStartTimeout, s.logPath)
		}
	}
}

// ctrCommand returns a ctr command against the stack's containerd. It runs in
// its own process group, so that a Ctrl-C reaches only the benchmark, which
// then cleans up in order.
func (s *stack) ctrCommand(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"--address", s.address, "--namespace", namespace}, args...)
	cmd := exec.CommandContext(ctx, s.ctrPath, full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// ctr runs ctr and returns its combined output; a non-zero exit is an error
// that carries the output.
func (s *stack) ctr(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := s.ctrCommand(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// removeContainer kills and deletes the task of id and deletes the
// container, ignoring what is already gone. It runs with its own timeout,
// because it also runs after the session's context was cancelled.
func (s *stack) removeContainer(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()

	_, _ = s.ctr(ctx, "task", "kill", "--signal", "SIGKILL", id)
	_, _ = s.ctr(ctx, "task", "delete", "--force", id)
	out, err := s.ctr(ctx, "container", "delete", id)
	if err != nil && !strings.Contains(out, "not found") {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	return nil
}

// removeAll removes every container in the session's namespace.
func (s *stack) removeAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()

	out, err := s.ctr(ctx, "container", "list", "--quiet")
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range strings.Fields(out) {
		errs = append(errs, s.removeContainer(id))
	}
	return errors.Join(errs...)
}

// stop stops containerd: SIGTERM, then SIGKILL after 10 s. Shims outlive
// containerd, so callers remove the containers first.
func (s *stack) stop() {
	if s.ctd == nil || s.ctd.Process == nil {
		return
	}
	_ = s.ctd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.ctdExited:
	case <-time.After(10 * time.Second):
		_ = s.ctd.Process.Kill()
		<-s.ctdExited
	}
}
