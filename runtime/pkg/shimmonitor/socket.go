package shimmonitor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// maxSocketPath is the size of sun_path in struct sockaddr_un on Linux minus
// the terminating NUL.
const maxSocketPath = 107

// SocketPath returns the monitor socket of sandbox id under sandboxesDir
// (/run/vc/sbs in production).
func SocketPath(sandboxesDir, id string) string {
	return filepath.Join(sandboxesDir, id, SocketName)
}

// ValidateSandboxID rejects ids that cannot name a directory entry of their
// own under the sandboxes directory.
func ValidateSandboxID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("invalid sandbox id %q: it must be a non-empty file name without '/'", id)
	}
	return nil
}

// listenUnix listens on path with mode 0600. It binds a temporary name in the
// same directory, sets the mode and renames it into place, so no client ever
// sees the socket with the umask's looser mode. A stale socket at path, left
// by a shim that crashed, is replaced.
func listenUnix(path string) (_ *net.UnixListener, err error) {
	if len(path)+len(".tmp") > maxSocketPath {
		return nil, fmt.Errorf("socket path %s is %d bytes, over the Unix socket limit of %d: use a shorter sandboxes directory",
			path, len(path), maxSocketPath-len(".tmp"))
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the sandbox directory for %s: %w", path, err)
	}

	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale socket %s: %w", tmp, err)
	}

	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", tmp, err)
	}
	// The file is renamed below, so the listener must not unlink the
	// temporary name on Close: another shim may own it by then.
	l.SetUnlinkOnClose(false)
	defer func() {
		if err != nil {
			_ = l.Close()
			_ = os.Remove(tmp)
		}
	}()

	if err := os.Chmod(tmp, 0o600); err != nil {
		return nil, fmt.Errorf("setting mode 0600 on %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("moving the socket %s to %s: %w", tmp, path, err)
	}
	return l, nil
}
