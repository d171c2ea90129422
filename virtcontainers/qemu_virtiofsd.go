package virtcontainers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// virtiofsdArgs returns the command line of virtiofsd for one sandbox.
// The Rust virtiofsd (1.x) takes --shared-dir and --cache, and the C
// virtiofsd that QEMU shipped up to 7.2 takes the same settings as -o
// options. Both keep their default namespace sandbox.
func virtiofsdArgs(legacyC bool, socketPath, sharedDir, cache string, extra []string) []string {
	if cache == "" {
		cache = "auto"
	}
	args := []string{"--socket-path=" + socketPath}
	if legacyC {
		args = append(args, "-o", "source="+sharedDir, "-o", "cache="+cache)
	} else {
		args = append(args, "--shared-dir="+sharedDir, "--cache="+cache)
	}
	return append(args, extra...)
}

// isLegacyVirtiofsd reports whether the virtiofsd at path is QEMU's C
// implementation, which prints "virtiofsd version 7.2.22 (...)" for
// --version, where the Rust one prints "virtiofsd 1.13.0".
func isLegacyVirtiofsd(path string) (bool, error) {
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("running %s --version: %w: %s; install virtiofsd or set virtio_fs_daemon in [hypervisor.qemu]", path, err, out)
	}
	return strings.HasPrefix(strings.TrimSpace(string(out)), "virtiofsd version "), nil
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
