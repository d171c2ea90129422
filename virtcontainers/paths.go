package virtcontainers

import "path/filepath"

// Paths are the host directories a sandbox keeps its files in. Production
// uses DefaultPaths; tests point every root at a temporary directory.
type Paths struct {
	// SandboxRoot holds one directory per sandbox with its persisted state
	// and the shim's monitor socket: /run/vc/sbs/<id>/.
	SandboxRoot string
	// VMRoot holds one directory per VM with the VMM's sockets and pid file:
	// /run/vc/vm/<id>/.
	VMRoot string
	// SharedRoot holds the host side of each sandbox's shared filesystem:
	// /run/kata-containers/shared/sandboxes/<id>/.
	SharedRoot string
}

// DefaultPaths returns the directories upstream Kata uses, so that tools that
// look for sandboxes there (kata-monitor, operators' scripts) find ours.
func DefaultPaths() Paths {
	return Paths{
		SandboxRoot: "/run/vc/sbs",
		VMRoot:      "/run/vc/vm",
		SharedRoot:  "/run/kata-containers/shared/sandboxes",
	}
}

// SandboxDir returns the state directory of sandbox id.
func (p Paths) SandboxDir(id string) string { return filepath.Join(p.SandboxRoot, id) }

// VMDir returns the VMM's directory for sandbox id.
func (p Paths) VMDir(id string) string { return filepath.Join(p.VMRoot, id) }

// SharedDir returns the host directory shared with the guest of sandbox id.
// Container root filesystems are bind-mounted below it.
func (p Paths) SharedDir(id string) string { return filepath.Join(p.SharedRoot, id, "shared") }

// RootfsImage returns the ext4 image built from the root filesystem
// directory of container containerID, for a sandbox without a shared
// filesystem. It lives in the sandbox's state directory, so that removing a
// sandbox left behind (CleanupSandbox) removes its images too.
func (p Paths) RootfsImage(sandboxID, containerID string) string {
	return filepath.Join(p.SandboxDir(sandboxID), "rootfs-"+containerID+".img")
}

// MonitorSocket returns the path of the shim's monitor socket of sandbox id.
func (p Paths) MonitorSocket(id string) string {
	return filepath.Join(p.SandboxDir(id), "shim-monitor.sock")
}

// guestSharedDir is where the agent mounts the shared filesystem, as
// upstream's agent expects it.
const guestSharedDir = "/run/kata-containers/shared/containers"
