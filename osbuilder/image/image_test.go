package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/initrd"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/preinit"
)

func makeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/sbin", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("usr/sbin", filepath.Join(root, "sbin"))
	os.WriteFile(filepath.Join(root, "usr/bin/kata-agent"), []byte("agent"), 0o755)
	os.Symlink("../bin/kata-agent", filepath.Join(root, "usr/sbin/init"))
	os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("sandbox\n"), 0o644)
	return root
}

func TestBuildWritesExt4AndRootParams(t *testing.T) {
	for _, tool := range []string{"mkfs.ext4", "e2fsck", "debugfs", "sfdisk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (Debian packages e2fsprogs and fdisk)", tool)
		}
	}
	root := makeRoot(t)
	out := filepath.Join(t.TempDir(), "kata-containers.img")
	res, err := Build(context.Background(), Options{Rootfs: root, Out: out})
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	if want := int64(partitionOffset + minImageSize); res.Size != want {
		t.Errorf("Size = %d, want %d for a tiny root", res.Size, want)
	}
	if res.Allocated >= res.Size {
		t.Errorf("allocated %d of %d bytes, want a sparse file", res.Allocated, res.Size)
	}

	table, err := exec.Command("sfdisk", "--dump", out).Output()
	if err != nil {
		t.Fatalf("sfdisk --dump: %v", err)
	}
	want := fmt.Sprintf("%s1 : start=        2048, size=%12d, type=83", out, minImageSize/512)
	if !strings.Contains(string(table), want) || !strings.Contains(string(table), "label-id: 0x4b415441") {
		t.Errorf("partition table:\n%s\nwant the line %q and label-id 0x4b415441", table, want)
	}

	// e2fsck and debugfs read the partition copied out of the image.
	part := filepath.Join(t.TempDir(), "part.img")
	img, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, img[partitionOffset:], 0o644); err != nil {
		t.Fatal(err)
	}
	if fsck, err := exec.Command("e2fsck", "-fn", part).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn on the partition: %v\n%s", err, fsck)
	}
	ls, err := exec.Command("debugfs", "-R", "cat /etc/hostname", part).Output()
	if err != nil || !strings.Contains(string(ls), "sandbox") {
		t.Errorf("debugfs cat /etc/hostname = %q, %v, want sandbox", ls, err)
	}
	params, err := os.ReadFile(filepath.Join(filepath.Dir(out), RootParamsFile))
	if err != nil || strings.TrimSpace(string(params)) != RootParams {
		t.Errorf("root.txt = %q, %v, want %q", params, err, RootParams)
	}
	// The same output again without --force is refused and left intact.
	if _, err := Build(context.Background(), Options{Rootfs: root, Out: out}); err == nil {
		t.Error("second Build() without Force error = nil, want output exists")
	}
}

func TestCheckRootfs(t *testing.T) {
	if err := CheckRootfs(makeRoot(t)); err != nil {
		t.Errorf("CheckRootfs(complete root) error = %v", err)
	}
	empty := t.TempDir()
	if err := CheckRootfs(empty); err == nil || !strings.Contains(err.Error(), "/sbin/init") {
		t.Errorf("CheckRootfs(empty) error = %v, want one naming /sbin/init", err)
	}
}

// writeRISCVELF writes a minimal riscv64 ELF header to stand in for kata-preinit.
func writeRISCVELF(t *testing.T) string {
	t.Helper()
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	hdr[16], hdr[18], hdr[20], hdr[52] = 2, 243, 1, 64
	p := filepath.Join(t.TempDir(), "kata-preinit")
	if err := os.WriteFile(p, hdr, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBootInitrd(t *testing.T) {
	root := makeRoot(t)
	const version = "6.12.117+deb13-riscv64"
	modDir := filepath.Join(root, "usr/lib/modules", version)
	modules := map[string]string{
		"kernel/drivers/block/virtio_blk.ko":   "",
		"kernel/drivers/virtio/virtio_mmio.ko": "",
		"kernel/crypto/crc32c_generic.ko":      "",
		"kernel/lib/crc16.ko":                  "",
		"kernel/fs/mbcache.ko":                 "",
		"kernel/fs/jbd2/jbd2.ko":               "",
		"kernel/fs/ext4/ext4.ko":               "kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko",
		"kernel/net/vmw_vsock/vsock.ko":        "",
	}
	var dep strings.Builder
	for path, deps := range modules {
		os.MkdirAll(filepath.Join(modDir, filepath.Dir(path)), 0o755)
		os.WriteFile(filepath.Join(modDir, path), []byte(path), 0o644)
		dep.WriteString(path + ": " + deps + "\n")
	}
	os.WriteFile(filepath.Join(modDir, "modules.dep"), []byte(dep.String()), 0o644)

	need, gotVersion, err := NeedsBootInitrd(root)
	if err != nil || !need || gotVersion != version {
		t.Fatalf("NeedsBootInitrd() = %v, %q, %v, want true, %q", need, gotVersion, err, version)
	}

	out := filepath.Join(t.TempDir(), BootInitrdName)
	if _, err := BuildBootInitrd(BootInitrdOptions{Rootfs: root, Preinit: writeRISCVELF(t), Out: out, MTime: time.Unix(0, 0)}, version); err != nil {
		t.Fatalf("BuildBootInitrd() error = %v", err)
	}
	gz, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	raw.ReadFrom(zr)
	recs, err := initrd.ReadCPIO(bytes.NewReader(raw.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, r := range recs {
		b := make([]byte, r.FileSize)
		if r.ReaderAt != nil {
			r.ReadAt(b, 0)
		}
		byName[r.Name] = string(b)
	}
	if _, ok := byName["init"]; !ok {
		t.Error("boot initrd has no /init")
	}
	if _, ok := byName["usr/lib/modules/"+version+"/kernel/net/vmw_vsock/vsock.ko"]; ok {
		t.Error("boot initrd carries vsock.ko, which the root mount does not need")
	}
	list, err := preinit.ParseModuleList(strings.NewReader(byName[strings.TrimPrefix(preinit.ModuleList, "/")]))
	if err != nil {
		t.Fatal(err)
	}
	m := "/usr/lib/modules/" + version + "/kernel/"
	want := []string{m + "drivers/virtio/virtio_mmio.ko", m + "drivers/block/virtio_blk.ko", m + "crypto/crc32c_generic.ko",
		m + "lib/crc16.ko", m + "fs/mbcache.ko", m + "fs/jbd2/jbd2.ko", m + "fs/ext4/ext4.ko"}
	if strings.Join(list, "\n") != strings.Join(want, "\n") {
		t.Errorf("module list =\n%s\nwant\n%s", strings.Join(list, "\n"), strings.Join(want, "\n"))
	}
}
