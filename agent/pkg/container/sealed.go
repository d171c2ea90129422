package container

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// runtimeSeals make a memfd immutable: no further seals, no shrinking, no
// growing and no writes. crun skips its own copy when /proc/self/exe carries
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
// /proc/self/exe (CVE-2019-5736): unless /proc/self/exe is a sealed memfd, it
// copies itself into a new memfd and executes that on every invocation, so
// each create, start, exec or delete loads crun twice. Under an emulated CPU
// this second load is a large part of a container's start. One sealed copy
// gives the same protection, because nothing can write to it.
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

	if _, err := io.Copy(memfd, src); err != nil {
		return "", fmt.Errorf("copying OCI runtime %s into a memfd: %w", path, err)
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
// makes it while the runtime connects rather than before it answers.
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
