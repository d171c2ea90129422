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

// The boot tests build one Debian trixie guest set per run (kernel, systemd
// rootfs and image, agent-init rootfs and initrd) with the osbuilder command,
// as a user would, and boot each with qemu-system-riscv64 under TCG. A
// stand-in agent (internal/testagent) takes kata-agent's place: it prints
// testAgentMarker on the console.
const testAgentMarker = "osbuilder-test-agent: started as pid"

type guestSet struct {
	dir        string
	bin        string
	kernel     string
	image      string
	bootInitrd string
	rootParams string
	initrd     string
	timings    map[string]time.Duration
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
	for _, tool := range []string{"qemu-system-riscv64", "mmdebstrap", "mkfs.ext4", "depmod", "dpkg-deb", "apt-get"} {
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

func run(t *testing.T, timings map[string]time.Duration, step string, env []string, name string, args ...string) (string, error) {
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	out, err := cmd.CombinedOutput()
	timings[step] = time.Since(start)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	t.Logf("%s (%.1fs): %s", step, timings[step].Seconds(), lines[len(lines)-1])
	return string(out), nil
}

// buildGuests builds the shared guest set once per test run. The package
// cache is the repository's build/cache, shared with 'make guest'.
func buildGuests(t *testing.T) guestSet {
	t.Helper()
	requireTools(t)
	guestOnce.Do(func() {
		guestErr = func() error {
			dir, err := os.MkdirTemp("", "osbuilder-boot-")
			if err != nil {
				return err
			}
			workDir = dir
			g := guestSet{dir: dir, bin: filepath.Join(dir, "bin"), timings: map[string]time.Duration{}}
			osb := filepath.Join(g.bin, "osbuilder")
			agent := filepath.Join(g.bin, "kata-agent")
			preinit := filepath.Join(g.bin, "kata-preinit")
			cache := filepath.Join(repoRoot(), "build", "cache")

			steps := []struct {
				step string
				env  []string
				args []string
			}{
				{"build osbuilder", nil, []string{"go", "build", "-o", osb, "./osbuilder/cmd/osbuilder"}},
				{"build stand-in agent", []string{"GOARCH=riscv64"}, []string{"go", "build", "-o", agent, "./osbuilder/internal/testagent"}},
				{"build kata-preinit", []string{"GOARCH=riscv64"}, []string{"go", "build", "-o", preinit, "./osbuilder/cmd/kata-preinit"}},
				{"kernel", nil, []string{osb, "kernel", "--distro", "debian", "--cache-dir", cache, "--out", filepath.Join(dir, "kernel")}},
				{"rootfs systemd", nil, []string{osb, "rootfs", "--distro", "debian", "--agent", agent, "--cache-dir", cache,
					"--kernel-modules", filepath.Join(dir, "kernel", "modules"), "--out", filepath.Join(dir, "rootfs")}},
				{"image", nil, []string{osb, "image", "--rootfs", filepath.Join(dir, "rootfs"), "--preinit", preinit,
					"--out", filepath.Join(dir, "kata-containers.img")}},
				{"rootfs agent-init", nil, []string{osb, "rootfs", "--distro", "debian", "--agent-init", "--agent", agent,
					"--cache-dir", cache, "--kernel-modules", filepath.Join(dir, "kernel", "modules"), "--out", filepath.Join(dir, "rootfs-agent-init")}},
				{"initrd", nil, []string{osb, "initrd", "--rootfs", filepath.Join(dir, "rootfs-agent-init"),
					"--out", filepath.Join(dir, "kata-containers-initrd.img")}},
			}
			for _, s := range steps {
				if _, err := run(t, g.timings, s.step, s.env, s.args[0], s.args[1:]...); err != nil {
					return err
				}
			}

			g.kernel = filepath.Join(dir, "kernel", "vmlinux.container")
			g.image = filepath.Join(dir, "kata-containers.img")
			g.bootInitrd = filepath.Join(dir, "kata-containers-boot-initrd.img")
			g.initrd = filepath.Join(dir, "kata-containers-initrd.img")
			params, err := os.ReadFile(filepath.Join(dir, "root.txt"))
			if err != nil {
				return err
			}
			g.rootParams = strings.TrimSpace(string(params))
			guest = g
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
	g := buildGuests(t)
	boot(t, 5*time.Minute,
		[]string{"Run /init as init process", testAgentMarker + " 1", "reboot: Power down"},
		"-kernel", g.kernel, "-initrd", g.initrd, "-append", "console=ttyS0 panic=-1")
}

func TestBootSystemdImage(t *testing.T) {
	g := buildGuests(t)
	if !strings.Contains(g.rootParams, "root=/dev/vda1") {
		t.Fatalf("root.txt = %q, want root=/dev/vda1", g.rootParams)
	}
	cmdline := "console=ttyS0 panic=-1 " + g.rootParams + " systemd.unit=kata-containers.target systemd.show_status=1"
	boot(t, 8*time.Minute,
		[]string{"kata-preinit: mounted /dev/vda1", "Started kata-agent.service", testAgentMarker, "Reached target kata-containers.target"},
		"-kernel", g.kernel, "-initrd", g.bootInitrd, "-append", cmdline,
		"-drive", "file="+g.image+",format=raw,if=none,id=root,snapshot=on", "-device", "virtio-blk-pci,drive=root")
}

// TestBootRealAgentInitrd boots an agent-init initrd with the project's own
// kata-agent, built from agent/cmd/kata-agent, and waits for it to listen
// on its vsock port after loading the modules in /etc/modules-load.d.
func TestBootRealAgentInitrd(t *testing.T) {
	g := buildGuests(t)
	if _, err := os.Stat(filepath.Join(repoRoot(), "agent", "cmd", "kata-agent")); err != nil {
		t.Skip("agent/cmd/kata-agent is not in this tree")
	}
	dir := t.TempDir()
	agent := filepath.Join(dir, "kata-agent")
	osb := filepath.Join(g.bin, "osbuilder")
	cache := filepath.Join(repoRoot(), "build", "cache")
	timings := map[string]time.Duration{}
	steps := [][]string{
		{"go", "build", "-o", agent, "./agent/cmd/kata-agent"},
		{osb, "rootfs", "--distro", "debian", "--agent-init", "--agent", agent, "--cache-dir", cache,
			"--kernel-modules", filepath.Join(g.dir, "kernel", "modules"), "--out", filepath.Join(dir, "rootfs")},
		{osb, "initrd", "--rootfs", filepath.Join(dir, "rootfs"), "--out", filepath.Join(dir, "initrd.img")},
	}
	for i, s := range steps {
		var env []string
		if i == 0 {
			env = []string{"GOARCH=riscv64"}
		}
		if _, err := run(t, timings, s[1], env, s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}

	// NOTE: the kernel starts PID 1 without PATH, and the agent looks crun
	// up in PATH; the kernel passes PATH=... from its command line to init.
	boot(t, 5*time.Minute,
		[]string{"Run /init as init process", "agent starting", "NET: Registered PF_VSOCK protocol family", "agent listening"},
		"-kernel", g.kernel, "-initrd", filepath.Join(dir, "initrd.img"),
		"-append", "console=ttyS0 panic=-1 PATH=/usr/sbin:/usr/bin:/sbin:/bin")
}
