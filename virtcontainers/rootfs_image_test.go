package virtcontainers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestMeasureTree(t *testing.T) {
	dir := t.TempDir()
	files := map[string]int{"a": 1, "b": 4096, "c": 4097}
	for name, size := range files {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "c"), filepath.Join(dir, "c-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "sub", "short")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/"+strings.Repeat("x", 80), filepath.Join(dir, "sub", "long")); err != nil {
		t.Fatal(err)
	}

	u, err := measureTree(dir)
	if err != nil {
		t.Fatalf("measureTree: %v", err)
	}
	// The root, a, b, c (with its hard link once), sub, short, long.
	if u.inodes != 7 {
		t.Errorf("inodes = %d, want 7", u.inodes)
	}
	// Data: a 1 block, b 1 block, c 2 blocks, two directories 1 block each,
	// the long symlink 1 block. Directory entries: 8 bytes plus the name
	// padded to 4 for a, b, c, c-link, sub, short and long.
	wantData := int64(7*ext4BlockSize + 7*8 + 4 + 4 + 4 + 8 + 4 + 8 + 4)
	if u.dataBytes != wantData {
		t.Errorf("dataBytes = %d, want %d", u.dataBytes, wantData)
	}

	size, inodes := ext4ImageSize(u)
	if inodes != 7+rootfsImageFreeInodes {
		t.Errorf("image inodes = %d, want %d", inodes, 7+rootfsImageFreeInodes)
	}
	if size%(1<<20) != 0 || size < rootfsImageFreeBytes+wantData+inodes*ext4InodeSize {
		t.Errorf("image size = %d, want a whole number of MiB covering data, inode table and free space", size)
	}
}

func TestMeasureTreeMissingDirectory(t *testing.T) {
	if _, err := measureTree(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("measureTree of a missing directory: %v, want os.ErrNotExist", err)
	}
}

// fakeE2fsprogs puts a mkfs.ext4 that runs script first in PATH.
func fakeE2fsprogs(t *testing.T, script string) {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the fake mkfs.ext4")
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "mkfs.ext4"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestBuildExt4ImageMkfsFailureRemovesImage(t *testing.T) {
	// The fake writes into the image first, as a real mkfs.ext4 that fails
	// halfway does.
	fakeE2fsprogs(t, `for last; do :; done
echo partial >"$last"
echo "mkfs.ext4: Could not allocate block in ext2 filesystem while populating file system" >&2
exit 1
`)
	image := filepath.Join(t.TempDir(), "rootfs.img")

	err := buildExt4Image(context.Background(), t.TempDir(), image, logrus.NewEntry(logrus.StandardLogger()))
	if err == nil || !strings.Contains(err.Error(), "Could not allocate block") {
		t.Fatalf("buildExt4Image error = %v, want mkfs.ext4's message quoted", err)
	}
	if _, err := os.Stat(image); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image after mkfs.ext4 failed: stat error %v, want it removed", err)
	}
}

func TestBuildExt4ImageCancelledRemovesImage(t *testing.T) {
	fakeE2fsprogs(t, "exec sleep 60\n")
	image := filepath.Join(t.TempDir(), "rootfs.img")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if err := buildExt4Image(ctx, t.TempDir(), image, logrus.NewEntry(logrus.StandardLogger())); !errors.Is(err, context.Canceled) {
		t.Fatalf("buildExt4Image with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := os.Stat(image); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image after a cancelled build: stat error %v, want it removed", err)
	}
}

func TestBuildExt4ImageKeepsExistingFile(t *testing.T) {
	fakeE2fsprogs(t, "exit 0\n")
	image := filepath.Join(t.TempDir(), "rootfs.img")
	if err := os.WriteFile(image, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}

	err := buildExt4Image(context.Background(), t.TempDir(), image, logrus.NewEntry(logrus.StandardLogger()))
	if !errors.Is(err, os.ErrExist) {
		t.Fatalf("buildExt4Image over an existing file: %v, want os.ErrExist", err)
	}
	if data, _ := os.ReadFile(image); string(data) != "someone else's" {
		t.Errorf("existing file now holds %q, want it untouched", data)
	}
}

func TestBuildExt4ImageWithoutMkfs(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := e2fsprogsDirs
	e2fsprogsDirs = []string{t.TempDir()}
	t.Cleanup(func() { e2fsprogsDirs = saved })

	err := buildExt4Image(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "rootfs.img"), logrus.NewEntry(logrus.StandardLogger()))
	if err == nil || !strings.Contains(err.Error(), "install e2fsprogs") {
		t.Errorf("buildExt4Image without mkfs.ext4: %v, want an error naming e2fsprogs", err)
	}
}
