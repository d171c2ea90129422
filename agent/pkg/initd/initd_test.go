package initd

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestIsMountPoint(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/proc", true},
		{t.TempDir(), false},
	}
	for _, tt := range tests {
		got, err := IsMountPoint(tt.path)
		if err != nil {
			t.Fatalf("IsMountPoint(%s): %v", tt.path, err)
		}
		if got != tt.want {
			t.Errorf("IsMountPoint(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestMountAllInPrivateNamespace mounts the tmpfs and proc entries under a
// temporary root in a new mount namespace of a locked thread, twice, to
// check that the second run skips what is mounted.
func TestMountAllInPrivateNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	root := t.TempDir()
	done := make(chan error, 1)
	go func() {
		// The thread is not unlocked, so Go discards it with its namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			done <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
			done <- err
			return
		}
		mounts := []Mount{
			{Source: "tmpfs", Target: "/run", FSType: "tmpfs", Data: "mode=0755"},
			{Source: "proc", Target: "/proc", FSType: "proc"},
		}
		if err := MountAll(root, mounts); err != nil {
			done <- err
			return
		}
		if err := MountAll(root, mounts); err != nil {
			done <- err
			return
		}
		for _, target := range []string{"/run", "/proc"} {
			ok, err := IsMountPoint(filepath.Join(root, target))
			if err != nil || !ok {
				done <- &os.PathError{Op: "mount", Path: target, Err: unix.EINVAL}
				return
			}
		}
		if _, err := os.Stat(filepath.Join(root, "proc/self/status")); err != nil {
			done <- err
			return
		}
		_ = unix.Unmount(filepath.Join(root, "proc"), unix.MNT_DETACH)
		_ = unix.Unmount(filepath.Join(root, "run"), unix.MNT_DETACH)
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("MountAll in a private mount namespace: %v", err)
	}
}

func TestBootMountsOrder(t *testing.T) {
	seen := map[string]bool{}
	for i, inner := range BootMounts {
		for _, outer := range BootMounts[i+1:] {
			if strings.HasPrefix(inner.Target, outer.Target+"/") {
				t.Errorf("%s is mounted before %s, which would hide it", inner.Target, outer.Target)
			}
		}
		seen[inner.Target] = true
	}
	for _, want := range []string{"/proc", "/sys", "/dev", "/run", "/tmp", "/sys/fs/cgroup"} {
		if !seen[want] {
			t.Errorf("BootMounts lacks %s", want)
		}
	}
}
