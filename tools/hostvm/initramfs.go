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

	"github.com/u-root/u-root/pkg/cpio"
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

// writeCPIO writes the records and the trailer as a gzip-compressed newc
// archive, the format the kernel unpacks as an initramfs. Records made by
// the cpio package's constructors carry a zero timestamp, so the same
// inputs give the same bytes.
func writeCPIO(w io.Writer, records []cpio.Record) error {
	gz := gzip.NewWriter(w)
	rw := cpio.Newc.Writer(gz)
	if err := cpio.WriteRecords(rw, records); err != nil {
		return fmt.Errorf("writing the cpio archive: %w", err)
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("writing the cpio trailer: %w", err)
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

	records := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.StaticFile("bin/busybox", string(busybox), 0o755),
		cpio.Symlink("bin/sh", "busybox"),
		cpio.Directory("dev", 0o755),
		// The kernel opens /dev/console for init's stdio before init mounts
		// devtmpfs.
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("etc", 0o755),
		cpio.Directory("lib", 0o755),
		cpio.Directory("lib/modules", 0o755),
		cpio.Directory("newroot", 0o755),
		cpio.Directory("proc", 0o755),
		cpio.Directory("sys", 0o755),
		cpio.StaticFile("init", string(initScript), 0o755),
	}
	var list []string
	for _, p := range order {
		data, err := readModule(filepath.Join(modDir, p))
		if err != nil {
			return err
		}
		name := moduleName(p) + ".ko"
		records = append(records, cpio.StaticFile("lib/modules/"+name, string(data), 0o644))
		list = append(list, name)
	}
	records = append(records, cpio.StaticFile("etc/modules", strings.Join(list, "\n")+"\n", 0o644))

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating the initramfs: %w", err)
	}
	if err := writeCPIO(f, records); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
