package kernel

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// SandboxModules are the modules a sandbox needs, by name. When the kernel
// has one built in it is skipped.
//   - virtio_mmio: Firecracker's and the virt machine's MMIO transport
//   - virtio_blk, ext4: the guest image and block volumes
//   - crc32c_generic: ext4 and jbd2 request crc32c from the crypto API,
//     which modprobe cannot satisfy before the root file system is mounted
//   - virtio_net: the sandbox network
//   - 9p, 9pnet_virtio, virtiofs: shared file systems
//   - vmw_vsock_virtio_transport: the agent's vsock channel
var SandboxModules = []string{
	"virtio_mmio", "virtio_blk", "crc32c_generic", "ext4", "virtio_net",
	"9p", "9pnet_virtio", "virtiofs", "vmw_vsock_virtio_transport",
}

// BootModules are the modules needed to mount a virtio-blk ext4 root.
var BootModules = []string{"virtio_mmio", "virtio_blk", "crc32c_generic", "ext4"}

// ModulesDep is a parsed modules.dep: each module path (relative to
// /lib/modules/<version>) with the paths of the modules it needs.
type ModulesDep struct {
	deps   map[string][]string
	byName map[string]string
}

// ParseModulesDep reads modules.dep as written by depmod.
func ParseModulesDep(r io.Reader) (*ModulesDep, error) {
	m := &ModulesDep{deps: map[string][]string{}, byName: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, deps, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: missing ':' in %q", n, line)
		}
		m.deps[path] = strings.Fields(deps)
		m.byName[ModuleName(path)] = path
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading modules.dep: %w", err)
	}
	return m, nil
}

// ModuleName returns the kernel's name for a module file:
// kernel/net/9p/9pnet_virtio.ko.xz is 9pnet_virtio. The kernel treats
// dashes and underscores alike, so dashes become underscores.
func ModuleName(path string) string {
	base := filepath.Base(path)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// Path returns the modules.dep path of the named module.
func (m *ModulesDep) Path(name string) (string, bool) {
	p, ok := m.byName[strings.ReplaceAll(name, "-", "_")]
	return p, ok
}

// Resolve returns the module paths needed for names, each once, in an order
// that loads every module after the modules it depends on. Names in
// builtin are skipped; any other unknown name is an error.
func (m *ModulesDep) Resolve(names []string, builtin map[string]bool) ([]string, error) {
	var order []string
	state := map[string]int{} // 1: visiting, 2: done
	var visit func(path string, chain []string) error
	visit = func(path string, chain []string) error {
		switch state[path] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("modules.dep has a dependency cycle: %s -> %s", strings.Join(chain, " -> "), path)
		}
		state[path] = 1
		deps, ok := m.deps[path]
		if !ok {
			return fmt.Errorf("module %s needs %s, which modules.dep does not list", chain[len(chain)-1], path)
		}
		for _, d := range deps {
			if err := visit(d, append(chain, path)); err != nil {
				return err
			}
		}
		state[path] = 2
		order = append(order, path)
		return nil
	}

	for _, name := range names {
		path, ok := m.Path(name)
		if !ok {
			if builtin[strings.ReplaceAll(name, "-", "_")] {
				continue
			}
			return nil, fmt.Errorf("kernel module %s is neither in modules.dep nor built in", name)
		}
		if err := visit(path, []string{name}); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// ParseBuiltin reads modules.builtin (one kernel/.../name.ko path a line)
// into a set of module names.
func ParseBuiltin(r io.Reader) (map[string]bool, error) {
	set := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			set[ModuleName(line)] = true
		}
	}
	return set, sc.Err()
}

// DecompressedName drops a .xz, .zst or .gz suffix from a module path.
func DecompressedName(path string) string {
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		if s, ok := strings.CutSuffix(path, ext); ok {
			return s
		}
	}
	return path
}

// CopyModule writes src to dst, decompressing it by its suffix. Loading
// uncompressed modules needs no decompressor in the guest kernel or in the
// program that loads them, and the initrd compresses them anyway.
func CopyModule(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()

	var r io.Reader = in
	switch filepath.Ext(src) {
	case ".xz":
		xr, err := xz.NewReader(in)
		if err != nil {
			return fmt.Errorf("decompressing %s: %w", src, err)
		}
		r = xr
	case ".zst":
		zr, err := zstd.NewReader(in)
		if err != nil {
			return fmt.Errorf("decompressing %s: %w", src, err)
		}
		defer zr.Close()
		r = zr
	case ".gz":
		gr, err := gzip.NewReader(in)
		if err != nil {
			return fmt.Errorf("decompressing %s: %w", src, err)
		}
		r = gr
	}

	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return fmt.Errorf("decompressing %s: %w", src, err)
	}
	return out.Close()
}
