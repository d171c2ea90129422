package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// buildSpaceNeed is the free space a build needs in the cache: about 550 MB
// of root filesystem tree, about 650 MB of blocks in the sparse image while
// both exist, and room for the kernel, modules and mirror downloads.
const buildSpaceNeed = 3 << 30

// buildOptions are the inputs of ensureImage that are not part of the spec.
type buildOptions struct {
	CacheDir string
	Mirror   string
	// Force rebuilds even when the cache holds an image with the same key.
	Force bool
}

// tools the build runs, with the Debian packages that provide them.
var buildTools = map[string]string{
	"mmdebstrap": "mmdebstrap",
	"mkfs.ext4":  "e2fsprogs",
	"chroot":     "coreutils",
}

// ensureImage returns the cached image for the options, building it first
// when the cache has none. A build happens in a temporary directory next to
// the final one and is renamed into place at the end, so a failed or
// interrupted build leaves no image behind. A lock file serialises builds
// of the same cache.
func ensureImage(ctx context.Context, log *logrus.Entry, opts buildOptions) (imageDir, error) {
	spec := newImageSpec(opts.Mirror)
	key, err := cacheKey(spec, guestFiles, initramfsFiles)
	if err != nil {
		return "", err
	}
	imagesDir := filepath.Join(opts.CacheDir, "images")
	if err := os.MkdirAll(imagesDir, 0o755); err != nil {
		return "", fmt.Errorf("creating the cache directory: %w", err)
	}
	dir := imageDir(filepath.Join(imagesDir, key))
	log = log.WithField("image", key)

	unlock, err := lockDir(log, imagesDir)
	if err != nil {
		return "", err
	}
	defer unlock()

	if m, err := readManifest(dir); err == nil && !opts.Force {
		log.WithField("kernel", m.KernelVersion).Infof("image is up to date (built %s in %.0f s): %s", m.BuiltAt, m.BuildSeconds, dir)
		return dir, nil
	}

	if err := preflightBuild(ctx, imagesDir, spec); err != nil {
		return "", err
	}

	start := time.Now()
	tmp, err := os.MkdirTemp(imagesDir, ".build-"+key+"-")
	if err != nil {
		return "", fmt.Errorf("creating the build directory: %w", err)
	}
	defer func() {
		// Nothing is left to remove after the rename below.
		if err := removeBuildDir(tmp); err != nil {
			log.WithError(err).Error("removing the failed build")
		}
	}()
	// MkdirTemp creates mode 0700, which keeps apt's _apt user inside the
	// new root from reaching its download directory.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("setting the mode of %s: %w", tmp, err)
	}

	m, err := buildImage(ctx, log, spec, imageDir(tmp))
	if err != nil {
		return "", fmt.Errorf("building the image (partial build removed): %w", err)
	}
	m.Key = key
	m.BuildSeconds = time.Since(start).Seconds()
	m.BuiltAt = time.Now().UTC().Format(time.RFC3339)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding the manifest: %w", err)
	}
	if err := os.WriteFile(imageDir(tmp).manifest(), append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("writing the manifest: %w", err)
	}

	// An image directory without a manifest is a leftover of an older
	// program that did not build in a temporary directory; replace it.
	if err := os.RemoveAll(string(dir)); err != nil {
		return "", fmt.Errorf("removing the incomplete image %s: %w", dir, err)
	}
	if err := os.Rename(tmp, string(dir)); err != nil {
		return "", fmt.Errorf("moving the image into place: %w", err)
	}

	pruneImages(log, imagesDir, key)

	size := imageUsage(dir)
	log.WithField("kernel", m.KernelVersion).Infof("built the image in %s: %s (%.0f MB on disk)",
		time.Since(start).Round(time.Second), dir, float64(size)/(1<<20))
	return dir, nil
}

func preflightBuild(ctx context.Context, imagesDir string, spec imageSpec) error {
	if err := checkTools(buildTools); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: building the image needs root, because mmdebstrap creates device nodes and files owned by other users; run hostvm build as root", errPreflight)
	}
	if err := checkBinfmt("/proc/sys/fs/binfmt_misc"); err != nil {
		return err
	}
	if err := checkFreeSpace(imagesDir, buildSpaceNeed); err != nil {
		return err
	}
	return checkMirror(ctx, spec.Mirror, spec.Suite)
}

// lockDir takes an exclusive flock on dir/.lock and returns its release.
func lockDir(log *logrus.Entry, dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		log.Infof("waiting for another hostvm build in %s", dir)
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
		}
	}
	return func() { f.Close() }, nil
}

// buildImage runs the build steps into the empty directory dir.
func buildImage(ctx context.Context, log *logrus.Entry, spec imageSpec, dir imageDir) (manifest, error) {
	m := manifest{Spec: spec}
	rootfs := filepath.Join(string(dir), "rootfs")
	guest := filepath.Join(string(dir), "guest")

	if _, err := writeFS(guestFiles, "guest", guest); err != nil {
		return m, err
	}

	err := step(log, "mmdebstrap: Debian "+spec.Suite+" "+spec.Arch+" root filesystem (3 to 11 min measured)", func() error {
		return runMmdebstrap(ctx, spec, guest, rootfs)
	})
	if err != nil {
		return m, err
	}

	kver, kernel, err := findKernel(rootfs)
	if err != nil {
		return m, err
	}
	m.KernelVersion = kver
	if err := copyFile(kernel, dir.kernel()); err != nil {
		return m, err
	}
	firmware := filepath.Join(rootfs, "usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin")
	if err := copyFile(firmware, dir.firmware()); err != nil {
		return m, fmt.Errorf("copying OpenSBI (package opensbi) out of the root filesystem: %w", err)
	}

	err = step(log, "initramfs: busybox and "+strings.Join(spec.Modules, ", "), func() error {
		return buildInitramfs(rootfs, kver, spec.Modules, initramfsFiles, dir.initrd())
	})
	if err != nil {
		return m, err
	}

	err = step(log, fmt.Sprintf("mkfs.ext4 -d into a %d GiB sparse image", spec.Size>>30), func() error {
		return makeExt4(ctx, rootfs, dir.rootfs(), spec.Size)
	})
	if err != nil {
		return m, err
	}

	if err := removeBuildDir(rootfs); err != nil {
		return m, fmt.Errorf("removing the root filesystem tree: %w", err)
	}
	if err := os.RemoveAll(guest); err != nil {
		return m, fmt.Errorf("removing the guest files: %w", err)
	}
	return m, nil
}

// step logs the start and the duration of one long build step.
func step(log *logrus.Entry, name string, fn func() error) error {
	start := time.Now()
	log.Infof("%s ...", name)
	if err := fn(); err != nil {
		log.WithError(err).Errorf("%s failed after %s", name, time.Since(start).Round(time.Second))
		return err
	}
	log.Infof("%s done in %s", name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func mmdebstrapArgs(spec imageSpec, guestDir, rootfs string) []string {
	return []string{
		"--variant=" + spec.Variant,
		"--arch=" + spec.Arch,
		"--include=" + strings.Join(spec.Packages, ","),
		// Without this hook the kernel package runs initramfs-tools under
		// qemu-user for an initrd that hostvm replaces with its own.
		"--dpkgopt=path-exclude=/etc/kernel/postinst.d/initramfs-tools",
		// Documentation and translations are never read in the emulated host.
		"--dpkgopt=path-exclude=/usr/share/man/*",
		"--dpkgopt=path-exclude=/usr/share/locale/*",
		"--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-include=/usr/share/doc/*/copyright",
		"--customize-hook=sync-in " + guestDir + " /",
		`--customize-hook=chroot "$1" /bin/sh /usr/local/lib/hostvm/provision.sh`,
		spec.Suite, rootfs, spec.Mirror,
	}
}

func runMmdebstrap(ctx context.Context, spec imageSpec, guestDir, rootfs string) error {
	cmd := exec.CommandContext(ctx, "mmdebstrap", mmdebstrapArgs(spec, guestDir, rootfs)...)
	// SIGTERM lets mmdebstrap unmount /proc, /sys and /dev inside the new
	// root before it exits; SIGKILL would leave them mounted.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Minute
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mmdebstrap %s %s from %s: %w (its output is above)", spec.Suite, spec.Arch, spec.Mirror, err)
	}
	return nil
}

// findKernel returns the version and the image path of the single kernel
// installed in rootfs. Debian's riscv64 kernel package installs an
// uncompressed Image as /boot/vmlinux-VERSION, or vmlinuz-VERSION on other
// architectures; both are tried.
func findKernel(rootfs string) (version, path string, err error) {
	entries, err := os.ReadDir(filepath.Join(rootfs, "lib", "modules"))
	if err != nil {
		return "", "", fmt.Errorf("listing the installed kernels: %w", err)
	}
	var versions []string
	for _, e := range entries {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	sort.Strings(versions)
	if len(versions) != 1 {
		return "", "", fmt.Errorf("want exactly one kernel in %s/lib/modules, found %v", rootfs, versions)
	}
	version = versions[0]
	for _, name := range []string{"vmlinux-" + version, "vmlinuz-" + version} {
		p := filepath.Join(rootfs, "boot", name)
		if _, err := os.Stat(p); err == nil {
			return version, p, nil
		}
	}
	return "", "", fmt.Errorf("kernel %s has no vmlinux or vmlinuz in %s/boot", version, rootfs)
}

func makeExt4(ctx context.Context, rootfs, image string, size int64) error {
	f, err := os.Create(image)
	if err != nil {
		return fmt.Errorf("creating the image file: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("sizing the image file: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "hostvm", "-d", rootfs, image).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mkfs.ext4 -d %s %s: %w: %s", rootfs, image, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// writeFS copies the directories and regular files under root of fsys into
// dir, replacing files of the same name, and returns how many files it
// wrote. Any other entry, such as a symbolic link or a fifo, is an error
// rather than followed, because the tree may come from a guest.
func writeFS(fsys fs.FS, root, dir string) (int, error) {
	n := 0
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is a %s: only regular files and directories are copied", rel, d.Type())
		}

		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

// imageUsage returns the bytes an image directory occupies on disk, counting
// only the allocated blocks of sparse files.
func imageUsage(dir imageDir) int64 {
	var total int64
	_ = filepath.WalkDir(string(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil {
			total += st.Blocks * 512
		}
		return nil
	})
	return total
}

// pruneImages removes the images of other keys, which no later run uses
// because the key follows the inputs of this program. A VM still running
// from one keeps working: QEMU holds the disk image open and has loaded the
// kernel and initramfs into memory. Temporary build directories (".build-")
// belong to builds in progress and are left alone.
func pruneImages(log *logrus.Entry, imagesDir, keep string) {
	entries, err := os.ReadDir(imagesDir)
	if err != nil {
		log.WithError(err).Warn("listing old images failed")
		return
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		old := filepath.Join(imagesDir, e.Name())
		if err := removeBuildDir(old); err != nil {
			log.WithError(err).Warnf("removing the old image %s failed", old)
			continue
		}
		log.Infof("removed the old image %s", old)
	}
}
