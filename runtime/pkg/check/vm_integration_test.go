//go:build integration

package check

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/initrd"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/kernel"
)

// checkVMModules are loaded between the two check runs in the VM.
var checkVMModules = []string{"kvm", "vhost_net", "vhost_vsock"}

// TestCheckInRISCV64VM runs the riscv64 kata-runtime check as part of the
// init of a Debian trixie kernel booted by qemu-system-riscv64 under TCG,
// with the H extension: once before and once after the init loads the kvm,
// vhost_net and vhost_vsock modules. It exercises the real riscv64
// /proc/cpuinfo and the KVM ioctls, which user-mode emulation cannot.
//
// It downloads the kernel packages from deb.debian.org on the first run and
// caches them under the user cache directory (KATA_TEST_CACHE overrides it).
func TestCheckInRISCV64VM(t *testing.T) {
	before, after, code := bootCheckVM(t, "rv64,h=true")

	wantResults(t, "before modules", before, map[string]Result{
		"architecture":        Pass,
		"cpu":                 Pass,
		"kvm":                 Fail,
		"kernel module kvm":   Fail,
		"nested host":         Warn,
		"kvm aia irqchip":     Warn,
		"kernel module vhost": Fail,
	})
	wantResults(t, "after modules", after, map[string]Result{
		"architecture":              Pass,
		"cpu":                       Pass,
		"kvm":                       Pass,
		"kernel module kvm":         Pass,
		"kernel module vhost":       Pass,
		"kernel module vhost_net":   Pass,
		"kernel module vhost_vsock": Pass,
		"agent channel":             Pass,
		"nested host":               Warn,
	})
	if !after.CanCreate {
		t.Error("CanCreate = false after loading kvm: KVM did not create a VM and a vCPU")
	}
	// The configuration loads, but names a QEMU binary and an image that
	// the VM lacks, so the report still fails.
	wantResults(t, "after modules", after, map[string]Result{
		"hypervisor qemu":       Fail,
		"guest kernel":          Pass,
		"guest root filesystem": Fail,
		"firmware":              Pass,
	})
	if code != 1 {
		t.Errorf("exit code after loading modules = %d, want 1 for the missing QEMU and image", code)
	}
}

// TestCheckInRISCV64VMWithoutH boots the same VM on a CPU without the H
// extension, where the kernel refuses to load kvm, as on a VisionFive 2.
func TestCheckInRISCV64VMWithoutH(t *testing.T) {
	_, after, code := bootCheckVM(t, "rv64,h=false")

	wantResults(t, "after modules", after, map[string]Result{
		"architecture":      Pass,
		"cpu":               Fail,
		"kvm":               Fail,
		"kernel module kvm": Fail,
	})
	if c := find(t, after, "kvm"); !strings.Contains(c.Reason, "because the CPU has no H extension") {
		t.Errorf("kvm reason %q does not name the missing H extension", c.Reason)
	}
	if c := find(t, after, "kernel module kvm"); !strings.Contains(c.Reason, "without the H extension") {
		t.Errorf("kvm module reason %q does not name the missing H extension", c.Reason)
	}
	if after.CanCreate || code != 1 {
		t.Errorf("CanCreate = %v, exit %d; want false and 1 without H", after.CanCreate, code)
	}
}

// bootCheckVM boots the check VM with the QEMU CPU model cpu and returns the
// reports from before and after the module loads, and the exit code of the
// second run. The VM carries the shipped QEMU configuration with only its
// guest kernel installed, so it has no QEMU binary and no guest image.
func bootCheckVM(t *testing.T, cpu string) (before, after *Report, code int) {
	t.Helper()
	qemu, err := exec.LookPath("qemu-system-riscv64")
	if err != nil {
		t.Skip("needs qemu-system-riscv64 (Debian package qemu-system-misc)")
	}
	if _, err := exec.LookPath("depmod"); err != nil {
		t.Skip("needs depmod (Debian package kmod) to index the guest kernel's modules")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	kernelDir := fetchCheckKernel(ctx, t)
	root := t.TempDir()
	buildRISCV64(ctx, t, "github.com/kata-riscv64/kata-riscv64/runtime/cmd/kata-runtime", filepath.Join(root, "kata-runtime"))
	buildRISCV64(ctx, t, "./testdata/vminit", filepath.Join(root, "init"))
	if err := os.CopyFS(root, os.DirFS(filepath.Join(kernelDir, kernel.ModulesTree))); err != nil {
		t.Fatalf("copying the module tree: %v", err)
	}
	copyFile(t, "../../../configs/configuration-qemu.toml", filepath.Join(root, "etc/kata-containers/configuration.toml"))
	copyFile(t, filepath.Join(kernelDir, kernel.ImageName), filepath.Join(root, "usr/share/kata-containers/vmlinux.container"))

	initramfs := filepath.Join(t.TempDir(), "initramfs.cpio")
	f, err := os.Create(initramfs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := initrd.WriteCPIO(f, root, time.Unix(0, 0), false); err != nil {
		t.Fatalf("writing the initramfs: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// aia=aplic, because QEMU 7.2's aplic-imsic hangs a 6.12 kernel under TCG.
	cmd := exec.CommandContext(ctx, qemu,
		"-M", "virt,aia=aplic", "-cpu", cpu, "-smp", "2", "-m", "1G",
		"-nographic", "-no-reboot", "-bios", "default",
		"-kernel", filepath.Join(kernelDir, kernel.ImageName), "-initrd", initramfs,
		"-append", "console=ttyS0 quiet panic=-1")
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("qemu-system-riscv64: %v\nconsole:\n%s", err, console.String())
	}
	t.Logf("VM (-cpu %s) booted, ran both checks and powered off in %s", cpu, time.Since(start).Round(time.Second))
	out := strings.ReplaceAll(console.String(), "\r\n", "\n")

	before, beforeCode := reportFrom(t, out, "before-modules")
	if beforeCode != 1 {
		t.Errorf("exit code before loading modules = %d, want 1", beforeCode)
	}
	after, code = reportFrom(t, out, "after-modules")
	for _, c := range after.Checks {
		t.Logf("after modules: %-4s %s: %s", c.Result, c.Name, c.Reason)
	}
	return before, after, code
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fetchCheckKernel returns a directory with the Debian trixie riscv64 kernel
// and the modules of checkVMModules, built by osbuilder's kernel fetcher.
func fetchCheckKernel(ctx context.Context, t *testing.T) string {
	t.Helper()
	cache := os.Getenv("KATA_TEST_CACHE")
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			t.Skipf("needs a cache directory for the guest kernel: %v", err)
		}
		cache = filepath.Join(dir, "kata-riscv64")
	}
	out := filepath.Join(cache, "check-vm-kernel")
	if _, err := os.Stat(filepath.Join(out, kernel.ImageName)); err == nil {
		return out
	}

	d, suite, err := distro.Lookup("debian", "")
	if err != nil {
		t.Fatal(err)
	}
	log := logrus.New()
	log.SetOutput(testWriter{t})
	res, err := kernel.Build(ctx, kernel.Options{
		Distro: d, Suite: suite, Mirror: d.DefaultMirror, CacheDir: cache, Out: out,
		Modules: checkVMModules, Log: log.WithFields(logrus.Fields{"source": "osbuilder", "subsystem": "kernel"}),
	})
	if err != nil {
		t.Skipf("needs the Debian riscv64 kernel packages from %s: %v", d.DefaultMirror, err)
	}
	t.Logf("fetched Debian kernel %s (%s) with modules %v", res.Version, res.Format, res.Modules)
	return out
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func buildRISCV64(ctx context.Context, t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=riscv64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// reportFrom extracts the JSON report that vminit printed between its
// markers, and the exit code of that run.
func reportFrom(t *testing.T, console, name string) (*Report, int) {
	t.Helper()
	re := regexp.MustCompile(`(?s)=== BEGIN ` + name + `\n(.*?)=== END ` + name + ` exit=(-?\d+)`)
	m := re.FindStringSubmatch(console)
	if m == nil {
		t.Fatalf("no %s report on the console:\n%s", name, console)
	}
	var r Report
	if err := json.Unmarshal([]byte(m[1]), &r); err != nil {
		t.Fatalf("%s report does not decode: %v\n%s", name, err, m[1])
	}
	code, err := strconv.Atoi(m[2])
	if err != nil {
		t.Fatalf("%s exit code %q: %v", name, m[2], err)
	}
	return &r, code
}

func wantResults(t *testing.T, when string, r *Report, want map[string]Result) {
	t.Helper()
	for name, result := range want {
		c := find(t, r, name)
		if c.Result != result {
			t.Errorf("%s: %s = %s (%s), want %s", when, name, c.Result, c.Reason, result)
		}
	}
}
