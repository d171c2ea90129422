package run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// assets are the build outputs and host tools a session needs.
type assets struct {
	shimDir    string // holds containerd-shim-kata-v2, put on containerd's PATH
	guestProg  string // the riscv64 benchguest binary
	kernel     string
	initrd     string
	qemu       string
	containerd string
	ctr        string
}

// findAssets checks that every build output and tool the selected modes need
// exists, and names the make target or package that provides a missing one.
func findAssets(o Options) (assets, error) {
	a := assets{
		shimDir:   filepath.Join(o.RepoRoot, "build", runtime.GOARCH),
		guestProg: filepath.Join(o.RepoRoot, "build", "riscv64", "benchguest"),
		kernel:    o.Kernel,
		initrd:    o.Initrd,
	}

	needContainerd := o.ColdRuns > 0 || o.WarmRuns > 0
	files := []struct{ path, fix string }{
		{a.kernel, "run 'make guest' (after 'make build')"},
		{a.initrd, "run 'make guest' (after 'make build')"},
		{o.ConfigTemplate, "pass --config with a Kata configuration.toml"},
	}
	if needContainerd {
		files = append(files,
			struct{ path, fix string }{filepath.Join(a.shimDir, "containerd-shim-kata-v2"), "run 'make build'"},
			struct{ path, fix string }{a.guestProg, "run 'make build' (it builds build/riscv64/benchguest)"},
		)
	}
	for _, f := range files {
		if _, err := os.Stat(f.path); err != nil {
			return assets{}, fmt.Errorf("%s missing: %w; %s", f.path, err, f.fix)
		}
	}

	tools := []struct {
		name string
		dst  *string
		need bool
		fix  string
	}{
		{"qemu-system-riscv64", &a.qemu, true, "install the Debian package qemu-system-misc ('make deps')"},
		{"containerd", &a.containerd, needContainerd, "install the Debian package containerd ('make deps')"},
		{"ctr", &a.ctr, needContainerd, "install the Debian package containerd ('make deps')"},
	}
	for _, t := range tools {
		if !t.need {
			continue
		}
		p, err := exec.LookPath(t.name)
		if err != nil {
			return assets{}, fmt.Errorf("%s not found: %w; %s", t.name, err, t.fix)
		}
		*t.dst = p
	}
	return a, nil
}
