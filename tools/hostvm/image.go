package main

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// imageFormat changes whenever the build steps in this program change in a way
// that the other inputs of the cache key do not show (how the initramfs is
// assembled, the image size, the file layout of an image directory).
const imageFormat = "hostvm-image-4"

const (
	defaultMirror = "http://deb.debian.org/debian"
	defaultSuite  = "trixie"

	// imageSize is the apparent size of the sparse ext4 image. The root
	// filesystem fills about 600 MB of it; the rest is room for what tests
	// write inside the emulated host, which snapshot=on discards at power-off.
	imageSize = 4 << 30
)

// defaultPackages are installed on top of mmdebstrap's minbase variant.
// busybox-static provides the statically linked busybox that both the
// initramfs of the emulated host and the nested test guests run as init.
// opensbi provides trixie's firmware, which --aia boots with.
var defaultPackages = []string{
	"systemd-sysv", "udev", "kmod", "procps", "iproute2", "busybox-static",
	"linux-image-riscv64",
	"containerd", "runc", "crun",
	"qemu-system-riscv", "opensbi", "virtiofsd",
}

// initramfsModules are the kernel modules the initramfs loads, with their
// dependencies from modules.dep, to mount the ext4 root on virtio-blk.
// Modules that the kernel has built in are skipped. crc32c_generic is named
// because ext4 needs a crc32c implementation but declares it only as a soft
// dependency. The 9p modules are loaded early so that the shares mount
// without waiting for udev.
var initramfsModules = []string{"virtio_blk", "crc32c_generic", "ext4", "9pnet_virtio", "9p"}

// guestFiles are copied into the root filesystem and provisioned by
// usr/local/lib/hostvm/provision.sh inside it.
//
//go:embed all:guest
var guestFiles embed.FS

// initramfsFiles holds the init script of the initramfs.
//
//go:embed initramfs
var initramfsFiles embed.FS

// imageSpec is everything an image is built from. Its hash names the image's
// cache directory, so a change to any field, to the guest files or to the
// init script leads to a new build.
type imageSpec struct {
	Format   string   `json:"format"`
	Suite    string   `json:"suite"`
	Mirror   string   `json:"mirror"`
	Arch     string   `json:"arch"`
	Variant  string   `json:"variant"`
	Packages []string `json:"packages"`
	Modules  []string `json:"initramfs_modules"`
	Size     int64    `json:"size"`
}

func newImageSpec(mirror string) imageSpec {
	return imageSpec{
		Format:   imageFormat,
		Suite:    defaultSuite,
		Mirror:   mirror,
		Arch:     "riscv64",
		Variant:  "minbase",
		Packages: append([]string(nil), defaultPackages...),
		Modules:  append([]string(nil), initramfsModules...),
		Size:     imageSize,
	}
}

// cacheKey returns a short hex digest of the spec and of the embedded files
// (provisioning script, systemd unit, initramfs init).
func cacheKey(spec imageSpec, files ...fs.FS) (string, error) {
	h := sha256.New()

	sorted := spec
	sorted.Packages = append([]string(nil), spec.Packages...)
	sort.Strings(sorted.Packages)
	data, err := json.Marshal(sorted)
	if err != nil {
		return "", fmt.Errorf("encoding the image spec: %w", err)
	}
	h.Write(data)

	for _, fsys := range files {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			content, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "\x00%s\x00%d\x00", path, len(content))
			h.Write(content)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("hashing the embedded guest files: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// imageDir is a built image in the cache: <cache>/images/<key>/.
type imageDir string

func (d imageDir) rootfs() string   { return filepath.Join(string(d), "rootfs.img") }
func (d imageDir) kernel() string   { return filepath.Join(string(d), "vmlinux") }
func (d imageDir) initrd() string   { return filepath.Join(string(d), "initrd.cpio.gz") }
func (d imageDir) firmware() string { return filepath.Join(string(d), "fw_dynamic.bin") }
func (d imageDir) manifest() string { return filepath.Join(string(d), "manifest.json") }

// manifest is written last into a finished image directory, so its presence
// marks a complete build.
type manifest struct {
	Key           string    `json:"key"`
	Spec          imageSpec `json:"spec"`
	KernelVersion string    `json:"kernel_version"`
	BuiltAt       string    `json:"built_at"`
	BuildSeconds  float64   `json:"build_seconds"`
}

func readManifest(d imageDir) (manifest, error) {
	var m manifest
	data, err := os.ReadFile(d.manifest())
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("parsing %s: %w", d.manifest(), err)
	}
	return m, nil
}
