package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/cpio"
)

// A trimmed modules.dep and modules.builtin in the layout of Debian's
// 6.12 riscv64 kernel.
const testModulesDep = `kernel/drivers/block/virtio_blk.ko.xz:
kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz
kernel/fs/jbd2/jbd2.ko.xz:
kernel/fs/mbcache.ko.xz:
kernel/lib/crc16.ko.xz:
kernel/crypto/crc32c_generic.ko.xz:
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz
kernel/net/9p/9pnet.ko.xz:
kernel/fs/netfs/netfs.ko.xz:
`

const testModulesBuiltin = `kernel/drivers/virtio/virtio_pci.ko
kernel/fs/fuse/virtiofs.ko
`

func TestModuleLoadOrder(t *testing.T) {
	idx, err := parseModuleIndex(strings.NewReader(testModulesDep), strings.NewReader(testModulesBuiltin))
	if err != nil {
		t.Fatalf("parseModuleIndex: %v", err)
	}
	tests := []struct {
		name    string
		modules []string
		want    []string
		wantErr string
	}{
		{"ext4 after its dependencies", []string{"ext4"}, []string{
			"kernel/lib/crc16.ko.xz", "kernel/fs/mbcache.ko.xz", "kernel/fs/jbd2/jbd2.ko.xz", "kernel/fs/ext4/ext4.ko.xz"}, ""},
		{"shared dependency once", []string{"9pnet_virtio", "9p"}, []string{
			"kernel/net/9p/9pnet.ko.xz", "kernel/net/9p/9pnet_virtio.ko.xz", "kernel/fs/netfs/netfs.ko.xz", "kernel/fs/9p/9p.ko.xz"}, ""},
		{"built-in skipped", []string{"virtio_pci", "virtio_blk"}, []string{"kernel/drivers/block/virtio_blk.ko.xz"}, ""},
		{"dash and underscore alike", []string{"crc32c-generic"}, []string{"kernel/crypto/crc32c_generic.ko.xz"}, ""},
		{"unknown module", []string{"nosuchmod"}, nil, `"nosuchmod" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := idx.loadOrder(tt.modules)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadOrder(%v) error = %v, want one containing %q", tt.modules, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadOrder(%v): %v", tt.modules, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("loadOrder(%v) =\n%q\nwant\n%q", tt.modules, got, tt.want)
			}
		})
	}
}

func TestModuleDependencyCycle(t *testing.T) {
	dep := "a.ko: b.ko\nb.ko: a.ko\n"
	idx, err := parseModuleIndex(strings.NewReader(dep), strings.NewReader(""))
	if err != nil {
		t.Fatalf("parseModuleIndex: %v", err)
	}
	if _, err := idx.loadOrder([]string{"a"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("loadOrder on a cycle: error = %v, want a dependency cycle error", err)
	}
}

func TestWriteCPIO(t *testing.T) {
	records := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.StaticFile("bin/busybox", "ELF...", 0o755),
		cpio.Symlink("bin/sh", "busybox"),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticFile("init", "#!/bin/busybox sh\n", 0o755),
	}
	var buf bytes.Buffer
	if err := writeCPIO(&buf, records); err != nil {
		t.Fatalf("writeCPIO: %v", err)
	}

	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatalf("the archive is not gzip: %v", err)
	}
	raw, err := io.ReadAll(gz)
	if err != nil {
		t.Fatalf("decompressing: %v", err)
	}
	got, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("reading the archive back: %v", err)
	}
	if len(got) != len(records) {
		t.Fatalf("read %d records, want %d", len(got), len(records))
	}
	for i, want := range records {
		g := got[i]
		if g.Name != want.Name || g.Mode != want.Mode {
			t.Errorf("record %d = %s %o, want %s %o", i, g.Name, g.Mode, want.Name, want.Mode)
		}
		if g.Rmajor != want.Rmajor || g.Rminor != want.Rminor {
			t.Errorf("%s device = %d:%d, want %d:%d", g.Name, g.Rmajor, g.Rminor, want.Rmajor, want.Rminor)
		}
		if g.ReaderAt == nil || want.ReaderAt == nil {
			continue
		}
		gotData, _ := io.ReadAll(io.NewSectionReader(g.ReaderAt, 0, int64(g.FileSize)))
		wantData, _ := io.ReadAll(io.NewSectionReader(want.ReaderAt, 0, int64(want.FileSize)))
		if !bytes.Equal(gotData, wantData) {
			t.Errorf("%s content = %q, want %q", g.Name, gotData, wantData)
		}
	}
}
