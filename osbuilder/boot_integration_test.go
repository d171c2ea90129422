//go:build integration

package osbuilder_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The boot tests boot one Debian trixie guest set per run with
// qemu-system-riscv64 under TCG: the systemd image with its boot initrd,
// and the agent-init initrd. The set is the one 'make guest' wrote to
// build/guest (make integration runs it first), or, when that is
// incomplete or OSBUILDER_TEST_BUILD is set, one the test builds with the
// osbuilder command and the project's kata-agent, as a user would.

// guestFiles are the artifacts a guest set consists of.
var guestFiles = []string{
	"vmlinux.container", "kata-containers.img", "kata-containers-boot-initrd.img", "root.txt",
	"kata-containers-initrd.img",
}

type guestSet struct {
	dir        string
	kernel     string
	image      string
	bootInitrd string
	rootParams string
	initrd     string
}

var (
	guestOnce sync.Once
	guest     guestSet
	guestErr  error
	workDir   string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" && os.Getenv("OSBUILDER_KEEP") == "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

func requireTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("building a root filesystem with mmdebstrap in root mode needs root")
	}
	for _, tool := range []string{"qemu-system-riscv64", "mmdebstrap", "mkfs.ext4", "sfdisk", "depmod", "dpkg-deb", "apt-get"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: run 'make deps'", tool)
		}
	}
}

// repoRoot is the module root: the tests run in the osbuilder directory.
func repoRoot() string {
	abs, _ := filepath.Abs("..")
	return abs
}

func run(t *testing.T, step string, env []string, name string, args ...string) error {
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("%s (%.1fs): %s", step, time.Since(start).Seconds(), lines[len(lines)-1])
	return nil
}

// completeGuestDir reports whether dir holds every file of a guest set.
func completeGuestDir(dir string) bool {
	for _, f := range guestFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// buildGuestSet builds a guest set into dir with the osbuilder command. The
// package cache is the repository's build/cache, shared with 'make guest'.
func buildGuestSet(t *testing.T, dir string) error {
	bin := filepath.Join(dir, "bin")
	osb := filepath.Join(bin, "osbuilder")
	agent := filepath.Join(bin, "kata-agent")
	preinit := filepath.Join(bin, "kata-preinit")
	cache := filepath.Join(repoRoot(), "build", "cache")
	modules := filepath.Join(dir, "kernel", "modules")
	riscv := []string{"GOARCH=riscv64"}

	steps := []struct {
		step string
		env  []string
		args []string
	}{
		{"build osbuilder", nil, []string{"go", "build", "-o", osb, "./osbuilder/cmd/osbuilder"}},
		{"build kata-agent", riscv, []string{"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", agent, "./agent/cmd/kata-agent"}},
		{"build kata-preinit", riscv, []string{"go", "build", "-o", preinit, "./osbuilder/cmd/kata-preinit"}},
		{"kernel", nil, []string{osb, "kernel", "--distro", "debian", "--cache-dir", cache, "--out", filepath.Join(dir, "kernel")}},
		{"copy kernel", nil, []string{"cp", filepath.Join(dir, "kernel", "vmlinux.container"), dir}},
		{"rootfs systemd", nil, []string{osb, "rootfs", "--distro", "debian", "--agent", agent, "--cache-dir", cache,
			"--kernel-modules", modules, "--out", filepath.Join(dir, "rootfs")}},
		{"image", nil, []string{osb, "image", "--rootfs", filepath.Join(dir, "rootfs"), "--preinit", preinit,
			"--out", filepath.Join(dir, "kata-containers.img")}},
		{"rootfs agent-init", nil, []string{osb, "rootfs", "--distro", "debian", "--agent-init", "--agent", agent,
			"--cache-dir", cache, "--kernel-modules", modules, "--out", filepath.Join(dir, "rootfs-agent-init")}},
		{"initrd", nil, []string{osb, "initrd", "--rootfs", filepath.Join(dir, "rootfs-agent-init"),
			"--out", filepath.Join(dir, "kata-containers-initrd.img")}},
	}
	for _, s := range steps {
		if err := run(t, s.step, s.env, s.args[0], s.args[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// guestSetFor returns the shared guest set, building it on first use.
func guestSetFor(t *testing.T) guestSet {
	t.Helper()
	requireTools(t)
	guestOnce.Do(func() {
		guestErr = func() error {
			dir := filepath.Join(repoRoot(), "build", "guest")
			if os.Getenv("OSBUILDER_TEST_BUILD") != "" || !completeGuestDir(dir) {
				var err error
				if dir, err = os.MkdirTemp("", "osbuilder-boot-"); err != nil {
					return err
				}
				workDir = dir
				if err := buildGuestSet(t, dir); err != nil {
					return err
				}
			} else {
				t.Logf("booting the guest set of 'make guest' in %s", dir)
			}

			params, err := os.ReadFile(filepath.Join(dir, "root.txt"))
			if err != nil {
				return err
			}
			guest = guestSet{
				dir:        dir,
				kernel:     filepath.Join(dir, "vmlinux.container"),
				image:      filepath.Join(dir, "kata-containers.img"),
				bootInitrd: filepath.Join(dir, "kata-containers-boot-initrd.img"),
				rootParams: strings.TrimSpace(string(params)),
				initrd:     filepath.Join(dir, "kata-containers-initrd.img"),
			}
			return nil
		}()
	})
	if guestErr != nil {
		t.Fatalf("building the guests: %v", guestErr)
	}
	return guest
}

// boot runs qemu-system-riscv64 (TCG, OpenSBI from -bios default) and
// waits until every marker has appeared on the serial console, in any
// order. It fails when QEMU exits or limit passes first, and returns when
// each marker appeared, counted from QEMU's start.
func boot(t *testing.T, limit time.Duration, markers []string, qemuArgs ...string) map[string]time.Duration {
	t.Helper()
	args := append([]string{"-M", "virt", "-cpu", "rv64", "-smp", "1", "-m", "1G", "-bios", "default",
		"-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot"}, qemuArgs...)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-riscv64", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting qemu-system-riscv64: %v", err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	var console strings.Builder
	got := map[string]time.Duration{}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for len(got) < len(markers) && sc.Scan() {
		// systemd colours its status lines; the markers are plain text.
		line := ansiEscape.ReplaceAllString(sc.Text(), "")
		console.WriteString(line + "\n")
		for _, m := range markers {
			if _, seen := got[m]; !seen && strings.Contains(line, m) {
				got[m] = time.Since(start)
				t.Logf("%.1fs: %s", got[m].Seconds(), strings.TrimSpace(line))
			}
		}
	}
	for _, m := range markers {
		if _, seen := got[m]; !seen {
			t.Errorf("console never showed %q within %s", m, limit)
		}
	}
	if t.Failed() {
		t.Fatalf("console:\n%s", tail(console.String(), 80))
	}
	return got
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func TestBootAgentInitInitrd(t *testing.T) {
	g := guestSetFor(t)
	boot(t, 5*time.Minute,
		[]string{"Run /init as init process", "agent starting", "pid1=true", "NET: Registered PF_VSOCK protocol family",
			"OCI runtime selected", "agent listening"},
		"-kernel", g.kernel, "-initrd", g.initrd, "-append", "console=ttyS0 panic=-1")
}

func TestBootSystemdImage(t *testing.T) {
	g := guestSetFor(t)
	if !strings.Contains(g.rootParams, "root=/dev/vda1") {
		t.Fatalf("root.txt = %q, want root=/dev/vda1", g.rootParams)
	}
	// default.target is kata-containers.target, so the command line needs
	// no systemd.unit=.
	cmdline := "console=ttyS0 panic=-1 " + g.rootParams + " systemd.show_status=1"
	boot(t, 8*time.Minute,
		[]string{"kata-preinit: mounted /dev/vda1", "Started kata-agent.service", "Reached target kata-containers.target",
			"agent starting", "agent listening"},
		"-kernel", g.kernel, "-initrd", g.bootInitrd, "-append", cmdline,
		"-drive", "file="+g.image+",format=raw,if=none,id=root,snapshot=on", "-device", "virtio-blk-pci,drive=root")
}
