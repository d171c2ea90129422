package kmod

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestModulesLoadD(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"10-kata.conf": "# sandbox modules\nvirtio_blk\n\nvsock ; comment-only lines start with ;\n; virtio_net\n",
		"20-fs.conf":   "virtiofs\n",
		"ignored.txt":  "nbd\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	got, err := ModulesLoadD(dir)
	if err != nil {
		t.Fatalf("ModulesLoadD: %v", err)
	}
	want := []string{"virtio_blk", "vsock ; comment-only lines start with ;", "virtiofs"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ModulesLoadD = %q, want %q", got, want)
	}

	none, err := ModulesLoadD(filepath.Join(dir, "missing"))
	if err != nil || len(none) != 0 {
		t.Errorf("ModulesLoadD(missing dir) = %q, %v, want none", none, err)
	}
}

func TestModulesDepLookup(t *testing.T) {
	dir := t.TempDir()
	dep := "kernel/fs/fuse/virtiofs.ko.xz: kernel/fs/fuse/fuse.ko.xz\n" +
		"kernel/fs/fuse/fuse.ko.xz:\n" +
		"kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko: kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko kernel/net/vmw_vsock/vsock.ko\n"
	path := filepath.Join(dir, "modules.dep")
	if err := os.WriteFile(path, []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	l := &Loader{ModulesDir: dir}
	d, err := l.readModulesDep()
	if err != nil {
		t.Fatalf("readModulesDep: %v", err)
	}

	tests := []struct {
		name     string
		wantPath string
		wantDeps []string
	}{
		{"virtiofs", "kernel/fs/fuse/virtiofs.ko.xz", []string{"kernel/fs/fuse/fuse.ko.xz"}},
		{"vmw-vsock-virtio-transport", "kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko", []string{"kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko", "kernel/net/vmw_vsock/vsock.ko"}},
	}
	for _, tt := range tests {
		got, ok := d.path(tt.name)
		if !ok || got != tt.wantPath {
			t.Errorf("path(%s) = %q, %v, want %q", tt.name, got, ok, tt.wantPath)
			continue
		}
		if !reflect.DeepEqual(d.deps[got], tt.wantDeps) {
			t.Errorf("deps of %s = %q, want %q", tt.name, d.deps[got], tt.wantDeps)
		}
	}
	if _, ok := d.path("nbd"); ok {
		t.Errorf("path(nbd) found a module that modules.dep does not list")
	}
}

func TestLoadRejectsBadNames(t *testing.T) {
	l := &Loader{ModulesDir: t.TempDir()}
	for _, name := range []string{"", "../evil", "-v", "a b"} {
		if err := l.Load(name, nil); err == nil {
			t.Errorf("Load(%q) succeeded, want an error", name)
		}
	}
	if err := l.Load("vsock", []string{"--force"}); err == nil {
		t.Errorf("Load with parameter --force succeeded, want an error")
	}
}

// TestLoadWithDepsLoadsEachModuleOnce loads two modules that share their
// dependencies, with one of those built in, and checks that each module
// file reaches finit_module once.
func TestLoadWithDepsLoadsEachModuleOnce(t *testing.T) {
	modules := t.TempDir()
	sys := t.TempDir()
	dep := "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\n" +
		"kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko kernel/fs/netfs/netfs.ko\n" +
		"kernel/net/9p/9pnet.ko: kernel/fs/netfs/netfs.ko\n" +
		"kernel/fs/netfs/netfs.ko:\n"
	if err := os.WriteFile(filepath.Join(modules, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"kernel/fs/9p/9p.ko", "kernel/net/9p/9pnet_virtio.ko", "kernel/net/9p/9pnet.ko", "kernel/fs/netfs/netfs.ko"} {
		full := filepath.Join(modules, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// netfs is built into this kernel: /sys/module lists it from the start.
	if err := os.Mkdir(filepath.Join(sys, "netfs"), 0o755); err != nil {
		t.Fatal(err)
	}

	var inserted []string
	l := &Loader{ModulesDir: modules, SysModuleDir: sys}
	l.finit = func(fd int, params string, flags int) error {
		target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			return err
		}
		name := moduleName(target)
		inserted = append(inserted, name)
		return os.Mkdir(filepath.Join(sys, name), 0o755)
	}

	for _, name := range []string{"9pnet_virtio", "9p", "9p"} {
		if err := l.loadWithDeps(name, ""); err != nil {
			t.Fatalf("loadWithDeps(%s): %v", name, err)
		}
	}
	want := []string{"9pnet", "9pnet_virtio", "9p"}
	if !reflect.DeepEqual(inserted, want) {
		t.Errorf("finit_module calls = %q, want %q", inserted, want)
	}
}
