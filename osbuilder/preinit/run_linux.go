package preinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// rootWait bounds the wait for the root device to appear after its driver
// loads; virtio-blk probes in milliseconds even under TCG.
const rootWait = 30 * time.Second

// Run does preinit's work and execs the next init; it returns only on error.
// console receives progress lines prefixed with "kata-preinit:".
func Run(console io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(console, "kata-preinit: "+format+"\n", args...) }

	if err := mountIfNeeded("devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID); err != nil {
		return err
	}
	if err := mountIfNeeded("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
		return err
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return fmt.Errorf("reading /proc/cmdline: %w", err)
	}
	p := ParseCmdline(string(cmdline))

	if err := loadModules(logf); err != nil {
		return err
	}
	if !p.HasRootFS {
		logf("no root= parameter: starting %s from the initramfs", p.Init)
		if err := unix.Unmount("/proc", unix.MNT_DETACH); err != nil {
			logf("unmounting /proc: %v", err)
		}
		return exec(p.Init)
	}

	if err := waitFor(p.Root, rootWait); err != nil {
		return err
	}
	const newRoot = "/newroot"
	if err := os.MkdirAll(newRoot, 0o755); err != nil {
		return err
	}
	var flags uintptr
	if p.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount(p.Root, newRoot, p.FSType, flags, p.Flags); err != nil {
		return fmt.Errorf("mounting %s (%s, %q) on %s: %w", p.Root, p.FSType, p.Flags, newRoot, err)
	}
	logf("mounted %s; switching to %s", p.Root, p.Init)

	// The new init mounts /dev and /proc itself; hand over devtmpfs so the
	// console stays open, and drop /proc.
	if err := unix.Mount("/dev", newRoot+"/dev", "", unix.MS_MOVE, ""); err != nil {
		if err := unix.Unmount("/dev", unix.MNT_DETACH); err != nil {
			logf("unmounting /dev: %v", err)
		}
	}
	if err := unix.Unmount("/proc", unix.MNT_DETACH); err != nil {
		logf("unmounting /proc: %v", err)
	}
	if err := os.Chdir(newRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving %s to /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into the new root: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	// NOTE: the initramfs files (a few MiB of modules) stay in memory,
	// unreachable, for the life of the guest; switch_root(8) deletes them.
	return exec(p.Init)
}

func loadModules(logf func(string, ...any)) error {
	f, err := os.Open(ModuleList)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	paths, err := ParseModuleList(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", ModuleList, err)
	}
	for _, path := range paths {
		if err := loadModule(path); err != nil {
			return err
		}
	}
	logf("loaded %d modules", len(paths))
	return nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening module %s: %w", path, err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading module %s: %w", path, err)
	}
	return nil
}

func mountIfNeeded(source, target, fstype string, flags uintptr) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	err := unix.Mount(source, target, fstype, flags, "")
	if err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mounting %s on %s: %w", fstype, target, err)
	}
	return nil
}

func waitFor(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("root device %s did not appear within %s; the loaded modules: %s", path, limit, loadedModules())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loadedModules() string {
	data, err := os.ReadFile("/proc/modules")
	if err != nil {
		return "unknown"
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, " "); ok {
			names = append(names, name)
		}
	}
	return strings.Join(names, " ")
}

func exec(init string) error {
	err := unix.Exec(init, []string{init}, os.Environ())
	return fmt.Errorf("executing %s: %w", init, err)
}
