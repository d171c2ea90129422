package main

import (
	"github.com/sirupsen/logrus"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestCacheKey(t *testing.T) {
	files := fstest.MapFS{"guest/etc/hostname": {Data: []byte("hostvm\n")}}
	base := newImageSpec(defaultMirror)
	baseKey, err := cacheKey(base, files)
	if err != nil {
		t.Fatalf("cacheKey: %v", err)
	}

	again, err := cacheKey(newImageSpec(defaultMirror), fstest.MapFS{"guest/etc/hostname": {Data: []byte("hostvm\n")}})
	if err != nil {
		t.Fatalf("cacheKey: %v", err)
	}
	if again != baseKey {
		t.Errorf("same inputs gave keys %s and %s, want equal", baseKey, again)
	}

	reordered := newImageSpec(defaultMirror)
	reordered.Packages[0], reordered.Packages[1] = reordered.Packages[1], reordered.Packages[0]
	if k, _ := cacheKey(reordered, files); k != baseKey {
		t.Errorf("reordered package list gave key %s, want %s: order does not change the image", k, baseKey)
	}

	changes := []struct {
		name   string
		spec   func() imageSpec
		files  fstest.MapFS
		differ bool
	}{
		{"mirror", func() imageSpec { return newImageSpec("http://mirror.example/debian") }, files, true},
		{"suite", func() imageSpec { s := newImageSpec(defaultMirror); s.Suite = "forky"; return s }, files, true},
		{"package added", func() imageSpec {
			s := newImageSpec(defaultMirror)
			s.Packages = append(s.Packages, "strace")
			return s
		}, files, true},
		{"format", func() imageSpec { s := newImageSpec(defaultMirror); s.Format = "other"; return s }, files, true},
		{"module", func() imageSpec {
			s := newImageSpec(defaultMirror)
			s.Modules = append(s.Modules, "virtio_net")
			return s
		}, files, true},
		{"guest file content", func() imageSpec { return newImageSpec(defaultMirror) },
			fstest.MapFS{"guest/etc/hostname": {Data: []byte("other\n")}}, true},
		{"guest file renamed", func() imageSpec { return newImageSpec(defaultMirror) },
			fstest.MapFS{"guest/etc/hostname2": {Data: []byte("hostvm\n")}}, true},
	}
	for _, c := range changes {
		t.Run(c.name, func(t *testing.T) {
			k, err := cacheKey(c.spec(), c.files)
			if err != nil {
				t.Fatalf("cacheKey: %v", err)
			}
			if (k != baseKey) != c.differ {
				t.Errorf("key after changing %s = %s, base %s; want differ=%v", c.name, k, baseKey, c.differ)
			}
		})
	}
}

func TestCacheKeyOfEmbeddedFiles(t *testing.T) {
	k, err := cacheKey(newImageSpec(defaultMirror), guestFiles, initramfsFiles)
	if err != nil {
		t.Fatalf("cacheKey of the embedded files: %v", err)
	}
	if len(k) != 16 {
		t.Errorf("key %q has %d characters, want 16", k, len(k))
	}
}

func TestMountsUnder(t *testing.T) {
	mountinfo := `22 1 8:1 / / rw - ext4 /dev/vda rw
40 22 0:5 / /b/images/.build-1/rootfs/proc rw - proc proc rw
41 22 0:6 / /b/images/.build-1/rootfs/dev/pts rw - devpts devpts rw
42 22 0:7 / /b/images/.build-1/rootfs/dev rw - devtmpfs udev rw
43 22 0:8 / /b/images/.build-10/rootfs/proc rw - proc proc rw
44 22 0:9 / /b/images/.build-1/with\040space rw - tmpfs tmpfs rw
`
	got, err := mountsUnder(strings.NewReader(mountinfo), "/b/images/.build-1/")
	if err != nil {
		t.Fatalf("mountsUnder: %v", err)
	}
	want := []string{
		"/b/images/.build-1/rootfs/dev/pts",
		"/b/images/.build-1/rootfs/proc",
		"/b/images/.build-1/rootfs/dev",
		"/b/images/.build-1/with space",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mountsUnder =\n%q\nwant (deepest first)\n%q", got, want)
	}
}

func TestPruneImages(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"current", "old1", "old2", ".build-x-1"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(io.Discard)

	pruneImages(log.WithField("source", "hostvm"), dir, "current")

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".build-x-1", ".lock", "current"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after pruning: %q, want %q", got, want)
	}
}
