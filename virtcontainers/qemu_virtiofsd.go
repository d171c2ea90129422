package virtcontainers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// virtiofsdArgs returns the command line of virtiofsd (the Rust
// implementation's options) for one sandbox. The daemon's own namespace
// sandbox is off because the guest sees only the one shared directory.
func virtiofsdArgs(socketPath, sharedDir, cache string, extra []string) []string {
	if cache == "" {
		cache = "auto"
	}
	args := []string{
		"--socket-path=" + socketPath,
		"--shared-dir=" + sharedDir,
		"--cache=" + cache,
		"--sandbox=none",
	}
	return append(args, extra...)
}

// startVirtiofsd starts virtiofsd and waits until it has created its
// vhost-user socket, which QEMU connects to at start-up.
func startVirtiofsd(ctx context.Context, path string, args []string, socketPath string, stderr *tailBuffer) (*childProcess, error) {
	cmd := exec.Command(path, args...)
	cmd.Stderr = stderr
	p, err := startChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting virtiofsd %s: %w; install virtiofsd or set virtio_fs_daemon in [hypervisor.qemu]", path, err)
	}

	for {
		if _, err := os.Stat(socketPath); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("virtiofsd exited before creating %s: %s: %s", socketPath, p.exitStatus(), stderr.String())
		case <-ctx.Done():
			p.kill()
			return nil, fmt.Errorf("waiting for virtiofsd socket %s: %w", socketPath, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
