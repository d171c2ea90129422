package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/cavaliergopher/cpio"
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
	files := []cpioFile{
		{name: "bin", mode: cpio.TypeDir | 0o755},
		{name: "bin/busybox", mode: cpio.TypeReg | 0o755, data: []byte("ELF...")},
		{name: "bin/sh", mode: cpio.TypeSymlink | 0o777, data: []byte("busybox")},
		{name: "init", mode: cpio.TypeReg | 0o755, data: []byte("#!/bin/busybox sh\n")},
	}
	var buf bytes.Buffer
	if err := writeCPIO(&buf, files); err != nil {
		t.Fatalf("writeCPIO: %v", err)
	}

	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatalf("the archive is not gzip: %v", err)
	}
	r := cpio.NewReader(gz)
	for i, want := range files {
		h, err := r.Next()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if h.Name != want.name || h.Mode != want.mode {
			t.Errorf("entry %d = %s %v, want %s %v", i, h.Name, h.Mode, want.name, want.mode)
		}
		if want.mode&cpio.ModeType == cpio.TypeSymlink {
			if h.Linkname != string(want.data) {
				t.Errorf("%s links to %q, want %q", h.Name, h.Linkname, want.data)
			}
			continue
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		if !bytes.Equal(data, want.data) {
			t.Errorf("%s content = %q, want %q", h.Name, data, want.data)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last entry: %v, want io.EOF", err)
	}
}
