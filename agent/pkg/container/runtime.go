package container

import (
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/reaper"
)

// Runtime is the OCI runtime and the directories that every container of the
// sandbox shares.
type Runtime struct {
	// Command is the path of runc or crun.
	Command string
	// Sealed, when set, returns the path that executes a sealed copy of
	// Command (see SealInBackground), or "" to execute Command itself.
	Sealed func() string
	// StateRoot is the runtime's --root directory.
	StateRoot string
	// BundleRoot contains one bundle directory per container.
	BundleRoot string
	// Reaper collects the exits of container processes.
	Reaper *reaper.Reaper
	// Log is the agent's logger; containers add their id.
	Log *logrus.Entry
	// NoPivot makes the runtime enter the container's root with chroot
	// instead of pivot_root(2). pivot_root fails with EINVAL while the
	// guest's root is the initramfs (see RootIsInitramfs).
	NoPivot bool
}

// RootIsInitramfs reports whether / is the kernel's initramfs (ramfs or
// tmpfs), as in a guest booted from an initrd with the agent as init.
func RootIsInitramfs() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return false
	}
	return st.Type == unix.RAMFS_MAGIC || st.Type == unix.TMPFS_MAGIC
}

// FindRuntime returns the OCI runtime binary to use: name when it is not
// empty, else crun when it is in PATH (it starts faster and uses less memory
// than runc), else runc.
func FindRuntime(name string) (string, error) {
	candidates := []string{"crun", "runc"}
	if name != "" {
		candidates = []string{name}
	}
	for _, c := range candidates {
		if path, err := exec.LookPath(c); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no OCI runtime found in PATH (tried %v): install runc or crun in the guest image, or set agent.oci_runtime", candidates)
}

// command returns the path to execute for the runtime.
func (rt *Runtime) command() string {
	if rt.Sealed != nil {
		if sealed := rt.Sealed(); sealed != "" {
			return sealed
		}
	}
	return rt.Command
}

// bundleDir returns the bundle directory of container id.
func (rt *Runtime) bundleDir(id string) string {
	return filepath.Join(rt.BundleRoot, id)
}
