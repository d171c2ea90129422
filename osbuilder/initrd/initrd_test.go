package initrd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
	"golang.org/x/sys/unix"
)

var epoch = time.Unix(1700000000, 0)

// makeTree builds a small root with a directory, files, a symlink, a hard
// link and, when running as root, a character device.
func makeTree(t *testing.T) (root string, withDevice bool) {
	t.Helper()
	root = t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "dev"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/kata-agent"), []byte("agent binary"), 0o755))
	must(os.WriteFile(filepath.Join(root, "usr/bin/a"), []byte("hard linked"), 0o644))
	must(os.Link(filepath.Join(root, "usr/bin/a"), filepath.Join(root, "usr/bin/b")))
	must(os.MkdirAll(filepath.Join(root, "sbin"), 0o755))
	must(os.Symlink("../usr/bin/kata-agent", filepath.Join(root, "sbin/init")))
	must(os.WriteFile(filepath.Join(root, "etc-secret"), []byte("x"), 0o600))
	if os.Geteuid() == 0 {
		must(unix.Mknod(filepath.Join(root, "dev/console"), unix.S_IFCHR|0o600, int(unix.Mkdev(5, 1))))
		withDevice = true
	}
	return root, withDevice
}

func writeArchive(t *testing.T, root string, initLink bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "initrd.cpio")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteCPIO(f, root, epoch, initLink); err != nil {
		t.Fatalf("WriteCPIO() error = %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readArchive(t *testing.T, path string) map[string]cpio.Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadCPIO(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("ReadCPIO() error = %v", err)
	}
	m := map[string]cpio.Record{}
	for _, r := range recs {
		m[r.Name] = r
	}
	return m
}

func content(t *testing.T, r cpio.Record) string {
	t.Helper()
	if r.ReaderAt == nil {
		return ""
	}
	b := make([]byte, r.FileSize)
	if _, err := r.ReadAt(b, 0); err != nil && r.FileSize > 0 {
		t.Fatalf("reading %s: %v", r.Name, err)
	}
	return string(b)
}

func TestWriteCPIOReadBack(t *testing.T) {
	root, withDevice := makeTree(t)
	recs := readArchive(t, writeArchive(t, root, false))

	tests := []struct {
		name     string
		mode     uint64
		content  string
		wantData bool
	}{
		{name: "usr/bin/kata-agent", mode: unix.S_IFREG | 0o755, content: "agent binary", wantData: true},
		{name: "sbin/init", mode: unix.S_IFLNK | 0o777, content: "../usr/bin/kata-agent", wantData: true},
		{name: "etc-secret", mode: unix.S_IFREG | 0o600, content: "x", wantData: true},
		{name: "usr/bin", mode: unix.S_IFDIR | 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := recs[tt.name]
			if !ok {
				t.Fatalf("%s missing from the archive", tt.name)
			}
			if r.Mode != tt.mode {
				t.Errorf("mode = %#o, want %#o", r.Mode, tt.mode)
			}
			if r.MTime != uint64(epoch.Unix()) {
				t.Errorf("mtime = %d, want %d", r.MTime, epoch.Unix())
			}
			if tt.wantData {
				if got := content(t, r); got != tt.content {
					t.Errorf("content = %q, want %q", got, tt.content)
				}
			}
		})
	}

	t.Run("hard link", func(t *testing.T) {
		a, b := recs["usr/bin/a"], recs["usr/bin/b"]
		if a.Ino != b.Ino {
			t.Errorf("inodes %d and %d differ, want one inode", a.Ino, b.Ino)
		}
		if a.NLink != 2 || b.NLink != 2 {
			t.Errorf("nlink = %d, %d, want 2", a.NLink, b.NLink)
		}
		if got := content(t, a); got != "hard linked" {
			t.Errorf("first link content = %q, want the data", got)
		}
		if b.FileSize != 0 {
			t.Errorf("second link size = %d, want 0 (data travels with the first name)", b.FileSize)
		}
	})

	t.Run("character device", func(t *testing.T) {
		if !withDevice {
			t.Skip("creating a device node needs root")
		}
		r := recs["dev/console"]
		if r.Mode != unix.S_IFCHR|0o600 || r.Rmajor != 5 || r.Rminor != 1 {
			t.Errorf("dev/console mode %#o rdev %d:%d, want %#o 5:1", r.Mode, r.Rmajor, r.Rminor, unix.S_IFCHR|0o600)
		}
	})
}

func TestWriteCPIOSortedWithInitLink(t *testing.T) {
	root, _ := makeTree(t)
	path := writeArchive(t, root, true)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadCPIO(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("entries not sorted: %q", names)
	}
	init := readArchive(t, path)["init"]
	if init.Mode&unix.S_IFMT != unix.S_IFLNK || content(t, init) != "sbin/init" {
		t.Errorf("init = mode %#o target %q, want a symlink to sbin/init", init.Mode, content(t, init))
	}
	if init.NLink != 1 {
		t.Errorf("init nlink = %d, want 1", init.NLink)
	}
}

func TestListedByCpioTool(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("GNU cpio not installed (Debian package cpio)")
	}
	root, withDevice := makeTree(t)
	archive, err := os.Open(writeArchive(t, root, true))
	if err != nil {
		t.Fatal(err)
	}
	defer archive.Close()
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = archive
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	got := strings.Fields(string(out))
	want := []string{"dev", "etc-secret", "init", "sbin", "sbin/init", "usr", "usr/bin", "usr/bin/a", "usr/bin/b", "usr/bin/kata-agent"}
	if withDevice {
		want = append([]string{"dev", "dev/console"}, want[1:]...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cpio -t listed %q, want %q", got, want)
	}
}

func TestBuildReproducible(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd, None} {
		t.Run(string(c), func(t *testing.T) {
			root, _ := makeTree(t)
			out1 := filepath.Join(t.TempDir(), "a.img")
			if _, err := Build(Options{Rootfs: root, Out: out1, Compression: c, MTime: epoch}); err != nil {
				t.Fatalf("Build() error = %v", err)
			}
			// Touch every file: only the content may decide the bytes.
			later := time.Now().Add(time.Hour)
			filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error {
				os.Chtimes(p, later, later)
				return nil
			})
			out2 := filepath.Join(t.TempDir(), "b.img")
			if _, err := Build(Options{Rootfs: root, Out: out2, Compression: c, MTime: epoch}); err != nil {
				t.Fatalf("Build() error = %v", err)
			}
			a, _ := os.ReadFile(out1)
			b, _ := os.ReadFile(out2)
			if !bytes.Equal(a, b) {
				t.Errorf("two builds of the same tree differ (%d and %d bytes)", len(a), len(b))
			}
		})
	}
}

func TestBuildRejectsMissingInit(t *testing.T) {
	root := t.TempDir()
	_, err := Build(Options{Rootfs: root, Out: filepath.Join(t.TempDir(), "x.img"), Compression: Gzip, MTime: epoch})
	if err == nil {
		t.Fatal("Build() error = nil for a root without /sbin/init")
	}
}

func TestParseCompression(t *testing.T) {
	for _, s := range []string{"gzip", "zstd", "none"} {
		if _, err := ParseCompression(s); err != nil {
			t.Errorf("ParseCompression(%q) error = %v", s, err)
		}
	}
	if _, err := ParseCompression("lz4"); err == nil {
		t.Error("ParseCompression(lz4) error = nil, want invalid")
	}
}

// BenchmarkBuild measures writing a 16 MiB tree of 256 files, the order of
// an agent-init guest, with each compression.
func BenchmarkBuild(b *testing.B) {
	root := b.TempDir()
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i * 7 % 251) // compressible, like binaries
	}
	for i := 0; i < 256; i++ {
		dir := filepath.Join(root, "usr/lib", string(rune('a'+i%16)))
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i/16))), data, 0o644)
	}
	os.MkdirAll(filepath.Join(root, "sbin"), 0o755)
	os.WriteFile(filepath.Join(root, "sbin/init"), data, 0o755)

	for _, c := range []Compression{Gzip, Zstd} {
		b.Run(string(c), func(b *testing.B) {
			b.SetBytes(257 * int64(len(data)))
			for i := 0; i < b.N; i++ {
				out := filepath.Join(b.TempDir(), "initrd.img")
				if _, err := Build(Options{Rootfs: root, Out: out, Compression: c, MTime: epoch}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
