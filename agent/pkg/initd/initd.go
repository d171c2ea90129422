// Package initd does what an init system would do when the agent is PID 1
// in the guest: mount the kernel file systems, load the sandbox's kernel
// modules and power the guest off at the end.
package initd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Mount is one file system to mount at boot.
type Mount struct {
	Source string
	Target string
	FSType string
	Flags  uintptr
	Data   string
}

const nosuidNodevNoexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// BootMounts are the file systems an agent running as PID 1 mounts, in
// order; a container runtime needs all of them.
var BootMounts = []Mount{
	{Source: "proc", Target: "/proc", FSType: "proc", Flags: nosuidNodevNoexec},
	{Source: "sysfs", Target: "/sys", FSType: "sysfs", Flags: nosuidNodevNoexec},
	{Source: "devtmpfs", Target: "/dev", FSType: "devtmpfs", Flags: unix.MS_NOSUID, Data: "mode=0755"},
	{Source: "devpts", Target: "/dev/pts", FSType: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	{Source: "shm", Target: "/dev/shm", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
	{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=0755"},
	{Source: "tmpfs", Target: "/tmp", FSType: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777"},
	{Source: "cgroup2", Target: "/sys/fs/cgroup", FSType: "cgroup2", Flags: nosuidNodevNoexec, Data: "nsdelegate"},
}

// MountAll mounts each of mounts under root ("/" in the guest), creating
// the targets and skipping targets that are mount points already.
func MountAll(root string, mounts []Mount) error {
	for _, m := range mounts {
		target := filepath.Join(root, m.Target)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", target, err)
		}
		mounted, err := IsMountPoint(target)
		if err != nil {
			return err
		}
		if mounted {
			continue
		}
		if err := unix.Mount(m.Source, target, m.FSType, m.Flags, m.Data); err != nil {
			return fmt.Errorf("mounting %s on %s: %w", m.FSType, target, err)
		}
	}
	return nil
}

// IsMountPoint reports whether path is the root of a mount: it is on
// another device than its parent, or it is the same inode as its parent
// (the root directory).
func IsMountPoint(path string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, fmt.Errorf("inspecting %s: %w", path, err)
	}
	if err := unix.Lstat(filepath.Join(path, ".."), &parent); err != nil {
		return false, fmt.Errorf("inspecting the parent of %s: %w", path, err)
	}
	return st.Dev != parent.Dev || st.Ino == parent.Ino, nil
}

// PowerOff flushes the file systems and powers the guest off; it returns
// only on failure.
func PowerOff() error {
	unix.Sync()
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	return errors.Join(errors.New("powering the guest off failed"), err)
}
