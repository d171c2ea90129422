//go:build integration

package virtcontainers

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sirupsen/logrus"
)

// debugfs runs a debugfs request against image, read-only, and returns its
// standard output.
func debugfs(t *testing.T, image, request string) string {
	t.Helper()
	tool, err := findE2fsprogsTool("debugfs")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(tool, "-R", request, image)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("debugfs -R %q %s: %v: %s", request, image, err, stderr.String())
	}
	return stdout.String()
}

// imageEntry is one line of debugfs's ls -l.
type imageEntry struct {
	mode     string // octal, with the file type: 100644, 40755, 120777
	uid, gid string
}

// listImageDir returns the entries of directory dir in image by name.
func listImageDir(t *testing.T, image, dir string) map[string]imageEntry {
	t.Helper()
	entries := map[string]imageEntry{}
	for _, line := range strings.Split(debugfs(t, image, "ls -l "+dir), "\n") {
		// inode mode (type) uid gid size date time name
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		entries[f[len(f)-1]] = imageEntry{mode: f[1], uid: f[3], gid: f[4]}
	}
	return entries
}

// statField returns the value after "field:" in debugfs's stat output.
func statField(t *testing.T, image, path, field string) string {
	t.Helper()
	out := debugfs(t, image, "stat "+path)
	i := strings.Index(out, field+":")
	if i < 0 {
		t.Fatalf("debugfs stat %s has no %s field:\n%s", path, field, out)
	}
	return strings.Fields(out[i+len(field)+1:])[0]
}

// TestBuildExt4ImageFromDirectory converts a directory tree with the modes,
// owners and file types a container image has into an ext4 image with the
// real mkfs.ext4, and reads the image back with debugfs and e2fsck.
func TestBuildExt4ImageFromDirectory(t *testing.T) {
	requireRoot(t)
	requireMkfsExt4(t)

	dir := filepath.Join(t.TempDir(), "rootfs")
	blob := make([]byte, 3<<20)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	longTarget := "/" + strings.Repeat("long-symlink-target/", 5) + "app"
	steps := []func() error{
		func() error { return os.Mkdir(dir, 0o750) },
		func() error { return os.Chown(dir, 1000, 1000) },
		func() error { return os.Mkdir(filepath.Join(dir, "bin"), 0o755) },
		func() error { return os.WriteFile(filepath.Join(dir, "bin", "app"), []byte("#!/bin/sh\n"), 0o755) },
		func() error { return os.Symlink("app", filepath.Join(dir, "bin", "short-link")) },
		func() error { return os.Symlink(longTarget, filepath.Join(dir, "bin", "long-link")) },
		func() error {
			return os.Link(filepath.Join(dir, "bin", "app"), filepath.Join(dir, "bin", "app-hardlink"))
		},
		func() error { return os.WriteFile(filepath.Join(dir, "bin", "su"), []byte("x"), 0o755) },
		func() error { return os.Chmod(filepath.Join(dir, "bin", "su"), 0o4755|os.ModeSetuid) },
		func() error { return os.Mkdir(filepath.Join(dir, "etc"), 0o755) },
		func() error {
			return os.WriteFile(filepath.Join(dir, "etc", "shadow"), []byte("root:*:1::::::\n"), 0o600)
		},
		func() error { return os.Chown(filepath.Join(dir, "etc", "shadow"), 1234, 5678) },
		func() error { return os.Mkdir(filepath.Join(dir, "tmp"), 0o1777) },
		func() error { return os.Chmod(filepath.Join(dir, "tmp"), 0o777|os.ModeSticky) },
		func() error { return syscall.Mkfifo(filepath.Join(dir, "tmp", "fifo"), 0o640) },
		func() error { return os.MkdirAll(filepath.Join(dir, "data", "many"), 0o755) },
		func() error { return os.WriteFile(filepath.Join(dir, "data", "blob"), blob, 0o644) },
		// A sparse file counts at its full length in the size estimate.
		func() error { return os.WriteFile(filepath.Join(dir, "data", "sparse"), nil, 0o644) },
		func() error { return os.Truncate(filepath.Join(dir, "data", "sparse"), 64<<20) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("building the source tree, step %d: %v", i, err)
		}
	}
	const manyFiles = 5000
	for i := range manyFiles {
		if err := os.WriteFile(filepath.Join(dir, "data", "many", strconv.Itoa(i)), []byte(strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	image := filepath.Join(t.TempDir(), "rootfs.img")
	log := logrus.NewEntry(logrus.StandardLogger())
	if err := buildExt4Image(context.Background(), dir, image, log); err != nil {
		t.Fatalf("buildExt4Image: %v", err)
	}

	e2fsck, err := findE2fsprogsTool("e2fsck")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(e2fsck, "-f", "-n", image).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -f -n on the image: %v\n%s", err, out)
	}

	wantEntries := map[string]map[string]imageEntry{
		"/": {
			"bin":  {mode: "40755", uid: "0", gid: "0"},
			"etc":  {mode: "40755", uid: "0", gid: "0"},
			"tmp":  {mode: "41777", uid: "0", gid: "0"},
			"data": {mode: "40755", uid: "0", gid: "0"},
		},
		"/bin": {
			"app":          {mode: "100755", uid: "0", gid: "0"},
			"app-hardlink": {mode: "100755", uid: "0", gid: "0"},
			"short-link":   {mode: "120777", uid: "0", gid: "0"},
			"long-link":    {mode: "120777", uid: "0", gid: "0"},
			"su":           {mode: "104755", uid: "0", gid: "0"},
		},
		"/etc": {"shadow": {mode: "100600", uid: "1234", gid: "5678"}},
		"/tmp": {"fifo": {mode: "10640", uid: "0", gid: "0"}},
	}
	for dir, want := range wantEntries {
		got := listImageDir(t, image, dir)
		for name, w := range want {
			if g, ok := got[name]; !ok || g != w {
				t.Errorf("%s/%s in the image: %+v (listed: %v), want %+v", strings.TrimSuffix(dir, "/"), name, g, ok, w)
			}
		}
	}

	if got := statField(t, image, "/", "Mode"); got != "0750" {
		t.Errorf("root directory mode in the image = %s, want 0750 as the source has", got)
	}
	if got := statField(t, image, "/", "User") + ":" + statField(t, image, "/", "Group"); got != "1000:1000" {
		t.Errorf("root directory owner in the image = %s, want 1000:1000 as the source has", got)
	}
	if got := statField(t, image, "/bin/app", "Links"); got != "2" {
		t.Errorf("/bin/app has %s links in the image, want 2 (hard link kept)", got)
	}
	if out := debugfs(t, image, "stat /bin/short-link"); !strings.Contains(out, `Fast link dest: "app"`) {
		t.Errorf("/bin/short-link in the image does not point to app:\n%s", out)
	}
	if got := debugfs(t, image, "cat /bin/long-link"); got != longTarget {
		t.Errorf("/bin/long-link target in the image = %q, want %q", got, longTarget)
	}
	if got := debugfs(t, image, "cat /data/blob"); got != string(blob) {
		t.Errorf("/data/blob in the image differs from the source (%d bytes, want %d)", len(got), len(blob))
	}
	if got := listImageDir(t, image, "/data/many"); len(got) != manyFiles+2 {
		t.Errorf("/data/many in the image has %d entries, want %d files plus . and ..", len(got), manyFiles)
	}

	// The headroom for the container's writes.
	stats := debugfs(t, image, "stats")
	freeBlocks, _ := strconv.ParseInt(statsField(stats, "Free blocks"), 10, 64)
	freeInodes, _ := strconv.ParseInt(statsField(stats, "Free inodes"), 10, 64)
	if free := freeBlocks * ext4BlockSize; free < rootfsImageFreeBytes*3/4 {
		t.Errorf("image has %d MiB free, want at least %d MiB for the container's writes", free>>20, rootfsImageFreeBytes*3/4>>20)
	}
	if freeInodes < rootfsImageFreeInodes {
		t.Errorf("image has %d free inodes, want at least %d", freeInodes, rootfsImageFreeInodes)
	}
	if fi, err := os.Stat(image); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		t.Logf("image: %d MiB long, %d MiB allocated, %d MiB and %d inodes free", fi.Size()>>20, st.Blocks*512>>20, freeBlocks*ext4BlockSize>>20, freeInodes)
	}
}

// statsField returns the value of "field:" in debugfs's stats output.
func statsField(stats, field string) string {
	for _, line := range strings.Split(stats, "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == field {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
