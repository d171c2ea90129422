package image

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/elfcheck"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/initrd"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/kernel"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/preinit"
)

// BootInitrdName is the boot initrd's file name beside the image.
const BootInitrdName = "kata-containers-boot-initrd.img"

// BootInitrdOptions describe the boot initrd for an image whose kernel has
// the root disk's driver or file system as modules.
type BootInitrdOptions struct {
	// Rootfs is the image's tree; its usr/lib/modules supplies the modules.
	Rootfs string
	// Preinit is the riscv64 kata-preinit binary that becomes /init.
	Preinit string
	Out     string
	MTime   time.Time
	Force   bool
}

// NeedsBootInitrd reports whether rootfs carries virtio_blk or ext4 as
// modules, which the kernel cannot load before it mounts the root. It
// returns the kernel version of the modules tree.
func NeedsBootInitrd(rootfs string) (bool, string, error) {
	versions, err := os.ReadDir(filepath.Join(rootfs, "usr/lib/modules"))
	if os.IsNotExist(err) || (err == nil && len(versions) == 0) {
		return false, "", nil
	}
	if err != nil {
		return false, "", err
	}
	if len(versions) != 1 {
		return false, "", fmt.Errorf("%s contains modules for %d kernels, want 1: rebuild the root with one --kernel-modules tree", filepath.Join(rootfs, "usr/lib/modules"), len(versions))
	}
	version := versions[0].Name()
	dep, err := readModulesDep(rootfs, version)
	if err != nil {
		return false, "", err
	}
	for _, m := range []string{"virtio_blk", "ext4"} {
		if _, ok := dep.Path(m); ok {
			return true, version, nil
		}
	}
	return false, version, nil
}

// BuildBootInitrd writes a gzip initramfs with kata-preinit as /init and
// the modules that mount a virtio-blk ext4 root, listed in load order.
func BuildBootInitrd(o BootInitrdOptions, version string) (initrd.Result, error) {
	if _, err := elfcheck.CheckRISCV64(o.Preinit); err != nil {
		return initrd.Result{}, fmt.Errorf("invalid --preinit: %w; run 'make build' to build kata-preinit", err)
	}
	dep, err := readModulesDep(o.Rootfs, version)
	if err != nil {
		return initrd.Result{}, err
	}
	// Only the modules the root mount needs; the rest load from the image.
	paths, err := dep.Resolve(kernel.BootModules, builtinOf(o.Rootfs, version))
	if err != nil {
		return initrd.Result{}, err
	}

	tree, err := os.MkdirTemp(filepath.Dir(o.Out), ".boot-initrd-*")
	if err != nil {
		return initrd.Result{}, err
	}
	defer os.RemoveAll(tree)
	if err := os.Chmod(tree, 0o755); err != nil {
		return initrd.Result{}, err
	}
	if err := copyTo(o.Preinit, filepath.Join(tree, "init"), 0o755); err != nil {
		return initrd.Result{}, err
	}
	var list []string
	modDir := "/usr/lib/modules/" + version
	for _, p := range paths {
		if err := copyTo(filepath.Join(o.Rootfs, modDir, p), filepath.Join(tree, modDir, p), 0o644); err != nil {
			return initrd.Result{}, err
		}
		list = append(list, filepath.Join(modDir, p))
	}
	listFile := filepath.Join(tree, preinit.ModuleList)
	if err := os.MkdirAll(filepath.Dir(listFile), 0o755); err != nil {
		return initrd.Result{}, err
	}
	if err := os.WriteFile(listFile, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
		return initrd.Result{}, err
	}
	for _, d := range []string{"dev", "proc", "newroot"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return initrd.Result{}, err
		}
	}
	return initrd.Build(initrd.Options{Rootfs: tree, Out: o.Out, Compression: initrd.Gzip, MTime: o.MTime, Force: o.Force})
}

func readModulesDep(rootfs, version string) (*kernel.ModulesDep, error) {
	path := filepath.Join(rootfs, "usr/lib/modules", version, "modules.dep")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: build the root with 'osbuilder rootfs --kernel-modules'", err)
	}
	defer f.Close()
	return kernel.ParseModulesDep(f)
}

func builtinOf(rootfs, version string) map[string]bool {
	f, err := os.Open(filepath.Join(rootfs, "usr/lib/modules", version, "modules.builtin"))
	if err != nil {
		return nil
	}
	defer f.Close()
	set, _ := kernel.ParseBuiltin(f)
	return set
}

func copyTo(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s: %w", src, err)
	}
	return out.Close()
}
