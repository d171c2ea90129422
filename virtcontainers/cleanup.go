package virtcontainers

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// CleanupSandbox stops and removes what a sandbox whose owner is gone left on
// the host: its VMM processes, mounts and directories, found through the state
// it persisted. It is what `containerd-shim-kata-v2 delete` runs after a shim
// crash. A sandbox without state is not an error: there is nothing to do.
func CleanupSandbox(paths Paths, id string) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("sandbox id %q: %w", id, ErrInvalidID)
	}
	log := logrus.WithFields(logrus.Fields{"source": "virtcontainers", "subsystem": "cleanup", "sandbox": id})

	st, err := LoadState(paths.SandboxDir(id))
	if errors.Is(err, os.ErrNotExist) {
		log.Debug("no sandbox state, nothing to clean up")
		return nil
	}
	if err != nil {
		return err
	}

	var errs []error
	for _, pid := range st.HypervisorPIDs {
		if err := killSandboxProcess(pid, id); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, undoHostState(*st)...)
	// Container mounts live only in the dead shim's memory; find them.
	errs = append(errs, unmountUnder(filepath.Dir(paths.SharedDir(id)))...)
	for _, dir := range []string{paths.VMDir(id), paths.SandboxDir(id), filepath.Dir(paths.SharedDir(id))} {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", dir, err))
		}
	}
	log.WithField("pids", st.HypervisorPIDs).Info("cleaned up sandbox left behind")
	return errors.Join(errs...)
}

// killSandboxProcess kills pid if it still is a process of sandbox id: its
// command line must name the sandbox, so that a recycled pid is never hit.
func killSandboxProcess(pid int, id string) error {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil // gone already
	}
	if !bytes.Contains(cmdline, []byte(id)) {
		return nil // pid reused by another process
	}

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing VMM process %d of sandbox %s: %w", pid, id, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || isZombie(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("VMM process %d of sandbox %s still exists after SIGKILL", pid, id)
}

// isZombie reports whether pid has exited and waits for its parent to reap it.
func isZombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces or parentheses.
	end := bytes.LastIndexByte(stat, ')')
	return end > 0 && end+2 < len(stat) && stat[end+2] == 'Z'
}

// unmountUnder unmounts every mount point below dir, deepest first, as
// listed in /proc/self/mountinfo.
func unmountUnder(dir string) []error {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []error{fmt.Errorf("listing mounts under %s: %w", dir, err)}
	}

	var points []string
	prefix := filepath.Clean(dir) + "/"
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		// The fifth field is the mount point, with spaces escaped as \040.
		if len(fields) > 4 && strings.HasPrefix(fields[4], prefix) {
			points = append(points, strings.ReplaceAll(fields[4], "\\040", " "))
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))

	var errs []error
	for _, p := range points {
		if err := unmount(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
