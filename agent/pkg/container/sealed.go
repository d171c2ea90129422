package container

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// runtimeSeals make a memfd immutable: no further seals, no shrinking, no
// growing and no writes. crun skips its own copy when /proc/self/exe has
// exactly these seals.
const runtimeSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// sealedFDMin keeps the sealed copy's descriptor above those that exec.Cmd
// assigns to ExtraFiles (3 and up), so that no child gets it replaced.
const sealedFDMin = 100

// SealRuntime copies the OCI runtime binary at path into a sealed memfd and
// returns /proc/self/fd/N, a path that executes the copy in the agent and in
// the children it starts. The memfd stays open for the agent's lifetime.
//
// crun defends against a container overwriting its binary through
// /proc/self/exe (CVE-2019-5736): unless it already runs from a protected
// file, it re-executes itself from a protected copy on every invocation. In
// a riscv64 guest under TCG, `crun --version` (crun 1.21) took 50 to 60 ms
// from a sealed memfd and 120 to 125 ms from its file, also when the file
// was bind-mounted read-only. One sealed copy gives the same protection for
// every call, because nothing can write to it.
func SealRuntime(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("opening OCI runtime %s: %w", path, err)
	}
	defer src.Close()

	fd, err := unix.MemfdCreate("oci-runtime:"+filepath.Base(path), unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return "", fmt.Errorf("creating a memfd for OCI runtime %s: %w", path, err)
	}
	memfd := os.NewFile(uintptr(fd), "memfd copy of "+path)
	defer memfd.Close()

	// sendfile copies inside the kernel: under TCG it took 31 to 35 ms for
	// crun, where io.Copy took 58 to 106 ms.
	info, err := src.Stat()
	if err != nil {
		return "", fmt.Errorf("reading the size of OCI runtime %s: %w", path, err)
	}
	for left := info.Size(); left > 0; {
		n, err := unix.Sendfile(int(memfd.Fd()), int(src.Fd()), nil, int(left))
		if err != nil {
			return "", fmt.Errorf("copying OCI runtime %s into a memfd: %w", path, err)
		}
		if n == 0 {
			return "", fmt.Errorf("copying OCI runtime %s into a memfd: the file ended %d bytes short of its size", path, left)
		}
		left -= int64(n)
	}
	if _, err := unix.FcntlInt(memfd.Fd(), unix.F_ADD_SEALS, runtimeSeals); err != nil {
		return "", fmt.Errorf("sealing the memfd copy of OCI runtime %s: %w", path, err)
	}

	// The duplicate outlives memfd, which the deferred Close releases.
	sealedFD, err := unix.FcntlInt(memfd.Fd(), unix.F_DUPFD_CLOEXEC, sealedFDMin)
	if err != nil {
		return "", fmt.Errorf("duplicating the memfd copy of OCI runtime %s: %w", path, err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", sealedFD), nil
}

// SealInBackground starts SealRuntime for path and returns a function that
// waits for it and returns the sealed copy's path, or "" when sealing failed,
// which it logs. The copy takes tens of milliseconds under TCG, so the agent
// makes it while the runtime connects rather than before it serves requests.
func SealInBackground(path string, log *logrus.Entry) func() string {
	done := make(chan string, 1)
	go func() {
		start := time.Now()
		sealed, err := SealRuntime(path)
		if err != nil {
			log.WithError(err).WithField("runtime", path).Warn("the OCI runtime runs from its file and copies itself on every call")
		} else {
			log.WithFields(logrus.Fields{"runtime": path, "command": sealed, "duration": time.Since(start)}).Info("OCI runtime sealed in memory")
		}
		done <- sealed
	}()
	return sync.OnceValue(func() string { return <-done })
}
