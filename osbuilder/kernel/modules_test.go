package kernel

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// testdata/modules.dep and modules.builtin are excerpts of depmod's output
// for Debian trixie's linux-image-6.12.117+deb13-riscv64.
func loadTestdata(t *testing.T) (*ModulesDep, map[string]bool) {
	t.Helper()
	f, err := os.Open("testdata/modules.dep")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dep, err := ParseModulesDep(f)
	if err != nil {
		t.Fatalf("ParseModulesDep() error = %v", err)
	}
	b, err := os.Open("testdata/modules.builtin")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	builtin, err := ParseBuiltin(b)
	if err != nil {
		t.Fatalf("ParseBuiltin() error = %v", err)
	}
	return dep, builtin
}

func TestResolve(t *testing.T) {
	dep, builtin := loadTestdata(t)
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{
			name:  "ext4 after its dependencies",
			names: []string{"ext4"},
			want: []string{
				"kernel/lib/crc16.ko.xz", "kernel/fs/mbcache.ko.xz", "kernel/fs/jbd2/jbd2.ko.xz", "kernel/fs/ext4/ext4.ko.xz",
			},
		},
		{
			name:  "vsock transport with shared dependency once",
			names: []string{"vmw_vsock_virtio_transport", "vsock"},
			want: []string{
				"kernel/net/vmw_vsock/vsock.ko.xz",
				"kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko.xz",
				"kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko.xz",
			},
		},
		{
			name:  "9p over virtio",
			names: []string{"9p", "9pnet_virtio"},
			want: []string{
				"kernel/fs/netfs/netfs.ko.xz", "kernel/net/9p/9pnet.ko.xz", "kernel/fs/9p/9p.ko.xz", "kernel/net/9p/9pnet_virtio.ko.xz",
			},
		},
		{
			name:  "built-in modules skipped",
			names: []string{"virtiofs", "virtio_pci", "virtio_blk"},
			want:  []string{"kernel/drivers/block/virtio_blk.ko.xz"},
		},
		{
			name:  "dash in name",
			names: []string{"virtio-blk"},
			want:  []string{"kernel/drivers/block/virtio_blk.ko.xz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dep.Resolve(tt.names, builtin)
			if err != nil {
				t.Fatalf("Resolve(%q) error = %v", tt.names, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resolve(%q) =\n%q\nwant\n%q", tt.names, got, tt.want)
			}
		})
	}
}

func TestResolveSandboxModulesOrder(t *testing.T) {
	dep, builtin := loadTestdata(t)
	got, err := dep.Resolve(SandboxModules, builtin)
	if err != nil {
		t.Fatalf("Resolve(SandboxModules) error = %v", err)
	}
	pos := map[string]int{}
	for i, p := range got {
		if _, dup := pos[p]; dup {
			t.Errorf("%s listed twice", p)
		}
		pos[p] = i
	}
	for _, p := range got {
		for _, d := range dep.deps[p] {
			if pos[d] >= pos[p] {
				t.Errorf("%s (position %d) is not loaded before %s (position %d)", d, pos[d], p, pos[p])
			}
		}
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		dep     string
		names   []string
		wantErr string
	}{
		{name: "unknown module", dep: "kernel/a.ko:\n", names: []string{"b"}, wantErr: "neither in modules.dep nor built in"},
		{name: "missing dependency", dep: "kernel/a.ko: kernel/b.ko\n", names: []string{"a"}, wantErr: "which modules.dep does not list"},
		{name: "cycle", dep: "kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n", names: []string{"a"}, wantErr: "cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dep, err := ParseModulesDep(strings.NewReader(tt.dep))
			if err != nil {
				t.Fatal(err)
			}
			_, err = dep.Resolve(tt.names, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseModulesDepRejectsGarbage(t *testing.T) {
	if _, err := ParseModulesDep(strings.NewReader("kernel/a.ko kernel/b.ko\n")); err == nil {
		t.Error("ParseModulesDep() error = nil for a line without ':'")
	}
}

func TestModuleName(t *testing.T) {
	tests := map[string]string{
		"kernel/net/9p/9pnet_virtio.ko.xz":  "9pnet_virtio",
		"kernel/fs/ext4/ext4.ko":            "ext4",
		"kernel/drivers/foo/foo-bar.ko.zst": "foo_bar",
	}
	for in, want := range tests {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCopyModuleDecompresses(t *testing.T) {
	payload := []byte("\x7fELF module payload")
	compressors := map[string]func(*bytes.Buffer) error{
		".xz": func(b *bytes.Buffer) error {
			w, err := xz.NewWriter(b)
			if err != nil {
				return err
			}
			if _, err := w.Write(payload); err != nil {
				return err
			}
			return w.Close()
		},
		".zst": func(b *bytes.Buffer) error {
			w, err := zstd.NewWriter(b)
			if err != nil {
				return err
			}
			if _, err := w.Write(payload); err != nil {
				return err
			}
			return w.Close()
		},
		".gz": func(b *bytes.Buffer) error {
			w := gzip.NewWriter(b)
			if _, err := w.Write(payload); err != nil {
				return err
			}
			return w.Close()
		},
		"": func(b *bytes.Buffer) error { b.Write(payload); return nil },
	}
	for ext, compress := range compressors {
		t.Run("ext"+ext, func(t *testing.T) {
			dir := t.TempDir()
			var b bytes.Buffer
			if err := compress(&b); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(dir, "m.ko"+ext)
			if err := os.WriteFile(src, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(dir, "out", DecompressedName("m.ko"+ext))
			if err := CopyModule(src, dst); err != nil {
				t.Fatalf("CopyModule() error = %v", err)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Errorf("decompressed = %q, want %q", got, payload)
			}
			if filepath.Base(dst) != "m.ko" {
				t.Errorf("DecompressedName = %s, want m.ko", filepath.Base(dst))
			}
		})
	}
}
