// Package kmod loads kernel modules in the guest: with modprobe from kmod
// when the image has it, else with finit_module(2) and modules.dep.
package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Runner runs a command to completion and returns its output and exit
// status; the agent passes its reaper's CombinedOutput.
type Runner func(cmd *exec.Cmd) ([]byte, int, error)

// Loader loads modules from ModulesDir (/lib/modules/<release>).
type Loader struct {
	ModulesDir string
	Run        Runner

	// SysModuleDir is the directory in which the kernel lists the modules
	// it holds, loaded or built in. An empty SysModuleDir means /sys/module.
	SysModuleDir string

	// finit loads one module file; nil means finit_module(2).
	finit func(fd int, params string, flags int) error
}

// NewLoader returns a Loader for the running kernel.
func NewLoader(run Runner) (*Loader, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil, fmt.Errorf("reading the kernel release: %w", err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	return &Loader{ModulesDir: filepath.Join("/lib/modules", release), Run: run}, nil
}

// Load loads module name with parameters ("key=value") and its dependencies.
func (l *Loader) Load(name string, params []string) error {
	if name == "" || strings.ContainsAny(name, "/ \t\n") || strings.HasPrefix(name, "-") {
		return fmt.Errorf("invalid kernel module name %q", name)
	}
	for _, p := range params {
		if strings.HasPrefix(p, "-") {
			return fmt.Errorf("invalid parameter %q for kernel module %s", p, name)
		}
	}

	if modprobe, err := exec.LookPath("modprobe"); err == nil {
		args := append([]string{"--", name}, params...)
		out, status, err := l.Run(exec.Command(modprobe, args...))
		if err != nil {
			return fmt.Errorf("running modprobe %s: %w", name, err)
		}
		if status != 0 {
			return fmt.Errorf("modprobe %s exited with %d: %s", name, status, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return l.loadWithDeps(name, strings.Join(params, " "))
}

// loadWithDeps loads the module's dependencies in modules.dep order, then
// the module itself, skipping those the kernel holds already. Two modules
// often share dependencies: 9p and 9pnet_virtio both need 9pnet and netfs.
// The kernel rejects a second finit_module of a loaded module with EEXIST
// only after it has read and verified the whole file again, which took
// 45 ms for netfs under TCG.
func (l *Loader) loadWithDeps(name, params string) error {
	deps, err := l.readModulesDep()
	if err != nil {
		return err
	}
	path, ok := deps.path(name)
	if !ok {
		return fmt.Errorf("kernel module %s not found in %s/modules.dep", name, l.ModulesDir)
	}
	// modules.dep lists a module's dependencies with the deepest last.
	list := deps.deps[path]
	for i := len(list) - 1; i >= 0; i-- {
		if l.inKernel(list[i]) {
			continue
		}
		if err := l.insert(list[i], ""); err != nil {
			return err
		}
	}
	if l.inKernel(path) {
		return nil
	}
	return l.insert(path, params)
}

// inKernel reports whether the kernel lists the module of file relPath under
// /sys/module, as it does for every loaded module and for built-in ones
// with parameters.
func (l *Loader) inKernel(relPath string) bool {
	dir := l.SysModuleDir
	if dir == "" {
		dir = "/sys/module"
	}
	_, err := os.Stat(filepath.Join(dir, moduleName(relPath)))
	return err == nil
}

// moduleName returns the kernel's name for a module file:
// "kernel/net/9p/9pnet_virtio.ko.xz" gives "9pnet_virtio".
func moduleName(relPath string) string {
	base := filepath.Base(relPath)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

func (l *Loader) insert(relPath, params string) error {
	full := filepath.Join(l.ModulesDir, relPath)
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("opening kernel module: %w", err)
	}
	defer func() { _ = f.Close() }()

	flags := 0
	if strings.HasSuffix(relPath, ".xz") || strings.HasSuffix(relPath, ".zst") || strings.HasSuffix(relPath, ".gz") {
		flags |= unix.MODULE_INIT_COMPRESSED_FILE
	}
	finit := l.finit
	if finit == nil {
		finit = unix.FinitModule
	}
	err = finit(int(f.Fd()), params, flags)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("loading kernel module %s: %w", full, err)
	}
	return nil
}

type modulesDep struct {
	// deps maps a module path relative to the modules directory to its
	// dependencies.
	deps map[string][]string
}

// path finds a module by name; modules.dep spells names with either '-' or
// '_', which the kernel treats alike.
func (d modulesDep) path(name string) (string, bool) {
	want := strings.ReplaceAll(name, "-", "_")
	keys := make([]string, 0, len(d.deps))
	for k := range d.deps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if moduleName(k) == want {
			return k, true
		}
	}
	return "", false
}

func (l *Loader) readModulesDep() (modulesDep, error) {
	path := filepath.Join(l.ModulesDir, "modules.dep")
	f, err := os.Open(path)
	if err != nil {
		return modulesDep{}, fmt.Errorf("reading the module list (install kmod in the guest image, or ship %s): %w", path, err)
	}
	defer func() { _ = f.Close() }()
	return parseModulesDep(f)
}

func parseModulesDep(f *os.File) (modulesDep, error) {
	d := modulesDep{deps: make(map[string][]string)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		module, deps, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.Contains(module, ".ko") {
			continue
		}
		d.deps[module] = strings.Fields(deps)
	}
	return d, sc.Err()
}

// ModulesLoadD returns the module names listed in the *.conf files of dir
// (modules-load.d(5)): one per line, '#' and ';' start comments. A missing
// directory gives none.
func ModulesLoadD(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var names []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
				continue
			}
			names = append(names, line)
		}
	}
	return names, nil
}
