package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cavaliergopher/cpio"
	"github.com/ulikunitz/xz"
)

// moduleIndex is the part of a kernel's modules.dep and modules.builtin that
// the initramfs needs: where each loadable module is and what it depends on.
type moduleIndex struct {
	paths   map[string]string   // module name -> path relative to the modules directory
	deps    map[string][]string // module name -> names of direct dependencies
	builtin map[string]bool
}

// moduleName turns "kernel/fs/ext4/ext4.ko.xz" into "ext4". Module names
// treat '-' and '_' alike; the index stores them with '_'.
func moduleName(p string) string {
	base := path.Base(p)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// parseModuleIndex reads modules.dep ("path: dep-path dep-path") and
// modules.builtin (one path a line).
func parseModuleIndex(dep, builtin io.Reader) (moduleIndex, error) {
	idx := moduleIndex{paths: map[string]string{}, deps: map[string][]string{}, builtin: map[string]bool{}}

	sc := bufio.NewScanner(dep)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		mod, rest, ok := strings.Cut(line, ":")
		if !ok {
			return idx, fmt.Errorf("invalid modules.dep line %q: want 'path: deps'", line)
		}
		name := moduleName(mod)
		idx.paths[name] = mod
		for _, d := range strings.Fields(rest) {
			idx.deps[name] = append(idx.deps[name], moduleName(d))
		}
	}
	if err := sc.Err(); err != nil {
		return idx, fmt.Errorf("reading modules.dep: %w", err)
	}

	sc = bufio.NewScanner(builtin)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			idx.builtin[moduleName(line)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return idx, fmt.Errorf("reading modules.builtin: %w", err)
	}
	return idx, nil
}

// loadOrder returns the paths of the named modules and of everything they
// depend on, each dependency before its users, without duplicates. Built-in
// modules are skipped; an unknown module is an error.
func (idx moduleIndex) loadOrder(names []string) ([]string, error) {
	var order []string
	done := map[string]bool{}
	visiting := map[string]bool{}

	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		name = strings.ReplaceAll(name, "-", "_")
		if done[name] || idx.builtin[name] {
			return nil
		}
		if visiting[name] {
			return fmt.Errorf("dependency cycle in modules.dep: %s", strings.Join(append(chain, name), " -> "))
		}
		p, ok := idx.paths[name]
		if !ok {
			return fmt.Errorf("kernel module %q not found in modules.dep or modules.builtin (needed by %v)", name, chain)
		}
		visiting[name] = true
		for _, d := range idx.deps[name] {
			if err := visit(d, append(chain, name)); err != nil {
				return err
			}
		}
		visiting[name] = false
		done[name] = true
		order = append(order, p)
		return nil
	}

	for _, n := range names {
		if err := visit(n, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// cpioFile is one regular file, directory or symlink of an initramfs.
type cpioFile struct {
	name string
	mode cpio.FileMode // type and permission bits
	data []byte        // content, or the target of a symlink
}

// writeCPIO writes the files as a gzip-compressed newc archive, the format
// the kernel unpacks as an initramfs. Timestamps are fixed so that the same
// inputs give the same bytes.
func writeCPIO(w io.Writer, files []cpioFile) error {
	gz := gzip.NewWriter(w)
	cw := cpio.NewWriter(gz)
	epoch := time.Unix(0, 0)

	for i, f := range files {
		h := &cpio.Header{Name: f.name, Mode: f.mode, ModTime: epoch, Inode: int64(i + 1), Links: 1}
		switch f.mode & cpio.ModeType {
		case cpio.TypeDir:
			h.Links = 2
		case cpio.TypeSymlink:
			h.Linkname = string(f.data)
			h.Size = int64(len(f.data))
		default:
			h.Size = int64(len(f.data))
		}
		if err := cw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing the cpio header of %s: %w", f.name, err)
		}
		if f.mode&cpio.ModeType != cpio.TypeDir {
			if _, err := cw.Write(f.data); err != nil {
				return fmt.Errorf("writing %s into the cpio archive: %w", f.name, err)
			}
		}
	}
	if err := cw.Close(); err != nil {
		return fmt.Errorf("closing the cpio archive: %w", err)
	}
	return gz.Close()
}

// readModule returns a module's uncompressed bytes. busybox insmod cannot
// read the .ko.xz files that Debian kernels ship.
func readModule(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(file, ".xz") {
		return data, nil
	}
	r, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", file, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decompressing %s: %w", file, err)
	}
	return out, nil
}

// buildInitramfs writes the emulated host's initramfs to out: the static
// busybox of rootfs, the init script and the modules needed to mount the
// root, taken from rootfs/lib/modules/<kernelVersion>.
func buildInitramfs(rootfs, kernelVersion string, modules []string, initFS fs.FS, out string) error {
	modDir := filepath.Join(rootfs, "lib", "modules", kernelVersion)
	dep, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return fmt.Errorf("opening modules.dep of kernel %s: %w", kernelVersion, err)
	}
	defer dep.Close()
	builtin, err := os.Open(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return fmt.Errorf("opening modules.builtin of kernel %s: %w", kernelVersion, err)
	}
	defer builtin.Close()
	idx, err := parseModuleIndex(dep, builtin)
	if err != nil {
		return err
	}
	order, err := idx.loadOrder(modules)
	if err != nil {
		return err
	}

	busybox, err := os.ReadFile(filepath.Join(rootfs, "bin", "busybox"))
	if err != nil {
		return fmt.Errorf("reading the root filesystem's busybox (package busybox-static): %w", err)
	}
	initScript, err := fs.ReadFile(initFS, "initramfs/init")
	if err != nil {
		return fmt.Errorf("reading the embedded init script: %w", err)
	}

	files := []cpioFile{
		{name: "bin", mode: cpio.TypeDir | 0o755},
		{name: "bin/busybox", mode: cpio.TypeReg | 0o755, data: busybox},
		{name: "bin/sh", mode: cpio.TypeSymlink | 0o777, data: []byte("busybox")},
		{name: "dev", mode: cpio.TypeDir | 0o755},
		{name: "etc", mode: cpio.TypeDir | 0o755},
		{name: "lib", mode: cpio.TypeDir | 0o755},
		{name: "lib/modules", mode: cpio.TypeDir | 0o755},
		{name: "newroot", mode: cpio.TypeDir | 0o755},
		{name: "proc", mode: cpio.TypeDir | 0o755},
		{name: "sys", mode: cpio.TypeDir | 0o755},
		{name: "init", mode: cpio.TypeReg | 0o755, data: initScript},
	}
	var list []string
	for _, p := range order {
		data, err := readModule(filepath.Join(modDir, p))
		if err != nil {
			return err
		}
		name := moduleName(p) + ".ko"
		files = append(files, cpioFile{name: "lib/modules/" + name, mode: cpio.TypeReg | 0o644, data: data})
		list = append(list, name)
	}
	files = append(files, cpioFile{name: "etc/modules", mode: cpio.TypeReg | 0o644, data: []byte(strings.Join(list, "\n") + "\n")})

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating the initramfs: %w", err)
	}
	if err := writeCPIO(f, files); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
