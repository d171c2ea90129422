package kernel

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/apt"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/output"
)

// File names inside the output directory of Build.
const (
	// ImageName follows upstream's name for the guest kernel.
	ImageName = "vmlinux.container"
	// ModulesTree is the directory that 'osbuilder rootfs --kernel-modules' copies into a root.
	ModulesTree = "modules"
)

// Options describe one kernel fetch.
type Options struct {
	Distro   distro.Distro
	Suite    string
	Mirror   string
	CacheDir string
	Out      string
	Force    bool
	// Modules are the module names to ship; SandboxModules when empty.
	Modules []string
	Log     *logrus.Entry
}

// Result describes the kernel written to Options.Out.
type Result struct {
	Version   string
	Format    Format
	ImageSize int64
	Modules   []string
	Duration  time.Duration
}

// Build downloads the distribution's kernel packages, writes the Image as
// vmlinux.container and the sandbox's modules (decompressed, with their
// dependencies, depmod's indexes and a modules-load.d file) under modules/.
func Build(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	if len(o.Modules) == 0 {
		o.Modules = SandboxModules
	}
	if err := output.CheckSpace(filepath.Dir(o.Out), 512<<20); err != nil {
		return Result{}, err
	}
	if _, err := exec.LookPath("depmod"); err != nil {
		return Result{}, fmt.Errorf("depmod not found: install the kmod package")
	}
	// Staging first: an existing output fails before any download.
	stage, err := output.Begin(o.Out, true, o.Force)
	if err != nil {
		return Result{}, err
	}
	defer stage.Abort()
	keyring, err := distro.EnsureKeyring(ctx, o.Distro, distro.KeyringSource, runtimeArch(), o.CacheDir)
	if err != nil {
		return Result{}, err
	}

	a := &apt.Apt{
		Dir:    filepath.Join(o.CacheDir, "apt", o.Distro.Name+"-"+o.Suite+"-"+distro.Arch),
		Arch:   distro.Arch,
		Source: apt.Source{Mirror: o.Mirror, Suite: o.Suite, Components: o.Distro.Components, Keyring: keyring},
	}
	if err := a.Init(); err != nil {
		return Result{}, err
	}
	o.Log.Infof("apt: updating the %s %s package lists from %s", o.Distro.Name, o.Suite, o.Mirror)
	if err := a.Update(ctx); err != nil {
		return Result{}, err
	}
	pkgs, err := kernelPackages(ctx, a, o.Distro.KernelPackage)
	if err != nil {
		return Result{}, err
	}
	o.Log.Infof("apt: downloading %s", strings.Join(pkgs, " "))
	debs, err := downloadCached(ctx, a, filepath.Join(o.CacheDir, "debs", "kernel-"+o.Distro.Name+"-"+o.Suite), pkgs)
	if err != nil {
		return Result{}, err
	}

	unpacked, err := o.unpack(ctx, debs)
	if err != nil {
		return Result{}, err
	}
	res, err := o.install(ctx, unpacked, stage.Path)
	if err != nil {
		return Result{}, err
	}
	if err := stage.Commit(); err != nil {
		return Result{}, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// unpackedMarker marks an unpacked and depmod-indexed kernel tree in the
// cache as complete.
const unpackedMarker = ".osbuilder-complete"

// unpack extracts the kernel packages into the cache and indexes their
// modules with depmod, once per set of package files: a second build of the
// same kernel reuses the tree and skips both steps.
func (o Options) unpack(ctx context.Context, debs []string) (string, error) {
	var names []string
	for _, d := range debs {
		names = append(names, strings.TrimSuffix(filepath.Base(d), ".deb"))
	}
	dir := filepath.Join(o.CacheDir, "unpacked", strings.Join(names, "+"))
	if fileExists(filepath.Join(dir, unpackedMarker)) {
		o.Log.Infof("using the unpacked kernel in %s", dir)
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	for _, deb := range debs {
		o.Log.Infof("extracting %s", filepath.Base(deb))
		if err := apt.ExtractDeb(ctx, deb, dir); err != nil {
			return "", err
		}
	}
	version, base, err := kernelTree(dir)
	if err != nil {
		return "", err
	}
	// The packages ship no modules.dep: their postinst runs depmod.
	o.Log.Info("depmod: indexing the distribution's modules")
	if err := runDepmod(ctx, base, version); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, unpackedMarker), nil, 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// kernelTree returns the kernel version of an unpacked tree and the base
// directory that holds lib/modules/<version>: Debian trixie ships modules
// under /usr/lib/modules, older releases under /lib/modules.
func kernelTree(dir string) (version, base string, err error) {
	kernels, _ := filepath.Glob(filepath.Join(dir, "boot", "vmlinu[xz]-*"))
	if len(kernels) != 1 {
		return "", "", fmt.Errorf("the kernel packages hold %d boot/vmlinux-* or vmlinuz-* files, want 1", len(kernels))
	}
	version = filepath.Base(kernels[0])[len("vmlinux-"):]
	base = filepath.Join(dir, "usr")
	if !fileExists(filepath.Join(base, "lib/modules", version)) {
		base = dir
	}
	return version, base, nil
}

// install writes the Image and the module tree from the unpacked packages.
func (o Options) install(ctx context.Context, scratch, out string) (Result, error) {
	var res Result
	version, srcBase, err := kernelTree(scratch)
	if err != nil {
		return res, err
	}
	res.Version = version
	kernels, _ := filepath.Glob(filepath.Join(scratch, "boot", "vmlinu[xz]-"+version))
	format, err := WriteImage(kernels[0], filepath.Join(out, ImageName))
	if err != nil {
		return res, err
	}
	res.Format = format
	fi, err := os.Stat(filepath.Join(out, ImageName))
	if err != nil {
		return res, err
	}
	res.ImageSize = fi.Size()
	if config := filepath.Join(scratch, "boot", "config-"+res.Version); fileExists(config) {
		if err := copyPlain(config, filepath.Join(out, "config-"+res.Version)); err != nil {
			return res, err
		}
	}

	srcDir := filepath.Join(srcBase, "lib/modules", res.Version)
	paths, builtin, err := resolve(srcDir, o.Modules)
	if err != nil {
		return res, err
	}
	// Built-in modules stay out of kata.conf, so the program that loads
	// the list does not need modules.builtin.
	var toLoad []string
	for _, name := range o.Modules {
		if !builtin[strings.ReplaceAll(name, "-", "_")] {
			toLoad = append(toLoad, name)
		}
	}

	dstBase := filepath.Join(out, ModulesTree, "usr")
	dstDir := filepath.Join(dstBase, "lib/modules", res.Version)
	for _, p := range paths {
		if err := CopyModule(filepath.Join(srcDir, p), filepath.Join(dstDir, DecompressedName(p))); err != nil {
			return res, err
		}
		res.Modules = append(res.Modules, ModuleName(p))
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		if err := copyPlain(filepath.Join(srcDir, f), filepath.Join(dstDir, f)); err != nil {
			return res, err
		}
	}
	if err := runDepmod(ctx, dstBase, res.Version); err != nil {
		return res, err
	}

	conf := "# Kernel modules a Kata sandbox needs, written by osbuilder kernel.\n" +
		"# systemd-modules-load loads them in systemd guests. In agent-init guests\n" +
		"# the agent loads each, dependencies first, when a request needs it.\n" +
		strings.Join(toLoad, "\n") + "\n"
	confPath := filepath.Join(out, ModulesTree, "etc/modules-load.d/kata.conf")
	if err := os.MkdirAll(filepath.Dir(confPath), 0o755); err != nil {
		return res, err
	}
	return res, os.WriteFile(confPath, []byte(conf), 0o644)
}

// resolve returns the load order of names and the set of built-in modules.
func resolve(modDir string, names []string) ([]string, map[string]bool, error) {
	f, err := os.Open(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	dep, err := ParseModulesDep(f)
	if err != nil {
		return nil, nil, err
	}
	b, err := os.Open(filepath.Join(modDir, "modules.builtin"))
	if err != nil {
		return nil, nil, err
	}
	defer b.Close()
	builtin, err := ParseBuiltin(b)
	if err != nil {
		return nil, nil, err
	}
	paths, err := dep.Resolve(names, builtin)
	return paths, builtin, err
}

// runDepmod indexes the modules under base/lib/modules/version. depmod reads
// riscv64 modules on any host architecture.
func runDepmod(ctx context.Context, base, version string) error {
	out, err := exec.CommandContext(ctx, "depmod", "-b", base, version).CombinedOutput()
	if err != nil {
		return fmt.Errorf("depmod -b %s %s: %w: %s", base, version, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// kernelPackages follows the metapackage's dependencies to the packages
// that hold the kernel and its modules (linux-image-*, linux-modules-*).
func kernelPackages(ctx context.Context, a *apt.Apt, meta string) ([]string, error) {
	seen := map[string]bool{}
	var pkgs []string
	queue := []string{meta}
	for depth := 0; len(queue) > 0 && depth < 4; depth++ {
		var next []string
		for _, p := range queue {
			deps, err := a.Depends(ctx, p)
			if err != nil {
				return nil, err
			}
			for _, d := range deps {
				if seen[d] || !isKernelPackage(d) || strings.HasPrefix(d, "linux-modules-extra-") {
					continue
				}
				seen[d] = true
				pkgs = append(pkgs, d)
				next = append(next, d)
			}
		}
		queue = next
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("%s depends on no linux-image-* package", meta)
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

func isKernelPackage(name string) bool {
	return strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "linux-modules-")
}

// downloadCached returns the cached .deb of each package, downloading the
// missing ones. Kernel package names carry the ABI version, so a cached
// file of the same name is the same kernel.
func downloadCached(ctx context.Context, a *apt.Apt, dir string, pkgs []string) ([]string, error) {
	var debs, missing []string
	for _, p := range pkgs {
		if m, _ := filepath.Glob(filepath.Join(dir, p+"_*.deb")); len(m) > 0 {
			debs = append(debs, m[len(m)-1])
			continue
		}
		missing = append(missing, p)
	}
	if len(missing) > 0 {
		got, err := a.Download(ctx, dir, missing...)
		if err != nil {
			return nil, err
		}
		debs = append(debs, got...)
	}
	return debs, nil
}
