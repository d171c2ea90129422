//go:build integration

package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// initMarker is what the guest kernel prints on the console when it hands
// over to the initrd's /init or the image's init, at KERN_INFO, so it shows
// with the debug kernel parameter.
var initMarker = regexp.MustCompile(`Run /\S*init as init process`)

// Boot timeouts under TCG on a 2-core x86 machine, where the guest kernel
// reaches init in 2 to 10 s.
const (
	bootTimeout   = 3 * time.Minute
	unplugTimeout = 90 * time.Second
)

// guestAssetsFromBuild returns the kernel and initrd that `make guest`
// builds, or those in $KATA_TEST_GUEST_DIR.
func guestAssetsFromBuild(t testing.TB) (kernel, initrd string) {
	t.Helper()
	requireQEMU(t)
	dir := os.Getenv("KATA_TEST_GUEST_DIR")
	if dir == "" {
		dir = filepath.Join("..", "build", "guest")
	}
	kernel = filepath.Join(dir, "vmlinux.container")
	initrd = filepath.Join(dir, "kata-containers-initrd.img")
	for _, p := range []string{kernel, initrd} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs the guest kernel and initrd (%v): run `make guest`, or set KATA_TEST_GUEST_DIR to a directory holding vmlinux.container and kata-containers-initrd.img", err)
		}
	}
	return kernel, initrd
}

// bootConfig is a TCG configuration for a small debug guest.
func bootConfig(t testing.TB, kernel, initrd string) HypervisorConfig {
	qemu := requireQEMU(t)
	return HypervisorConfig{
		Type:        QemuHypervisor,
		Path:        qemu,
		KernelPath:  kernel,
		InitrdPath:  initrd,
		Accelerator: AccelTCG,
		AIA:         AIAAuto,
		MemoryMiB:   512,
		EnableDebug: true,
		SharedFS:    SharedFSNone,
	}
}

// waitForConsole polls the console log until re matches or QEMU exits.
func waitForConsole(path string, re *regexp.Regexp, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		if b, err := os.ReadFile(path); err == nil && re.Match(b) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("QEMU exited before the console showed %q:\n%s", re, fileTail(path, 2048))
		case <-deadline:
			return fmt.Errorf("console showed no %q within %v:\n%s", re, timeout, fileTail(path, 2048))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestQemuBootTCG(t *testing.T) {
	kernel, initrd := guestAssetsFromBuild(t)
	runRoot := t.TempDir()
	q, err := NewQemu("boot", bootConfig(t, kernel, initrd), AgentConfig{Channel: ChannelAuto}, WithRunRoot(runRoot))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	ctx := context.Background()
	defer q.StopVM(ctx)

	if err := q.StartVM(ctx); err != nil {
		t.Fatalf("StartVM: %v", err)
	}
	pids := q.PIDs()
	if len(pids) != 1 {
		t.Fatalf("PIDs() = %v, want QEMU's pid", pids)
	}
	pidFile, err := os.ReadFile(filepath.Join(runRoot, "boot", pidFileName))
	if err != nil || strings.TrimSpace(string(pidFile)) != strconv.Itoa(pids[0]) {
		t.Errorf("pid file = %q, %v; want %d", pidFile, err, pids[0])
	}
	for _, name := range []string{qmpSocketName, consoleSocketName, agentSocketName} {
		info, err := os.Stat(filepath.Join(runRoot, "boot", name))
		if err != nil {
			t.Errorf("socket %s: %v", name, err)
			continue
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("socket %s mode = %o, want 600", name, mode)
		}
	}

	modes := []struct {
		path string
		mask os.FileMode
	}{
		{filepath.Join(runRoot, "boot", pidFileName), 0o077},
		{filepath.Join(runRoot, "boot"), 0o077},
	}
	for _, m := range modes {
		info, err := os.Stat(m.path)
		if err != nil {
			t.Errorf("stat %s: %v", m.path, err)
			continue
		}
		if perm := info.Mode().Perm(); perm&m.mask != 0 {
			t.Errorf("%s mode = %o, want no access for group and others", m.path, perm)
		}
	}

	url, err := q.AgentURL()
	if err != nil {
		t.Fatalf("AgentURL: %v", err)
	}
	if _, err := os.Stat("/dev/vhost-vsock"); err != nil && !strings.HasPrefix(url, "unix://") {
		t.Errorf("AgentURL = %q without /dev/vhost-vsock, want the serial channel's unix:// socket", url)
	}

	if err := waitForConsole(q.ConsoleLogPath(), initMarker, q.Exited(), bootTimeout); err != nil {
		t.Fatal(err)
	}
	// TestQemuBootToAgentHealth goes on from here to the agent.

	if err := q.PauseVM(ctx); err != nil {
		t.Fatalf("PauseVM: %v", err)
	}
	if st, err := q.QueryStatus(ctx); err != nil || st != "paused" {
		t.Errorf("status after PauseVM = %q, %v; want paused", st, err)
	}
	if err := q.ResumeVM(ctx); err != nil {
		t.Fatalf("ResumeVM: %v", err)
	}
	if st, err := q.QueryStatus(ctx); err != nil || st != "running" {
		t.Errorf("status after ResumeVM = %q, %v; want running", st, err)
	}

	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, make([]byte, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	pciPath, err := q.HotplugBlock(ctx, BlockDevice{ID: "disk0", Path: disk, ReadOnly: true})
	if err != nil {
		t.Fatalf("HotplugBlock: %v", err)
	}
	if pciPath != "10/00" {
		t.Errorf("HotplugBlock PCI path = %q, want 10/00 (first root port)", pciPath)
	}
	unplugCtx, cancel := context.WithTimeout(ctx, unplugTimeout)
	defer cancel()
	if err := q.UnplugBlock(unplugCtx, "disk0"); err != nil {
		t.Fatalf("UnplugBlock: %v\nconsole:\n%s", err, fileTail(q.ConsoleLogPath(), 2048))
	}

	start := time.Now()
	if err := q.StopVM(ctx); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	t.Logf("StopVM took %v", time.Since(start))
	select {
	case <-q.Exited():
	default:
		t.Errorf("Exited() open after StopVM")
	}
	if !processGone(pids[0]) {
		t.Errorf("QEMU pid %d still exists after StopVM", pids[0])
	}
	assertNothingLeft(t, runRoot)
}

func TestQemuGuestPanicClosesExited(t *testing.T) {
	kernel, _ := guestAssetsFromBuild(t)
	garbage := filepath.Join(t.TempDir(), "garbage-initrd.img")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not an initrd\n", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	runRoot := t.TempDir()
	q, err := NewQemu("panic", bootConfig(t, kernel, garbage), AgentConfig{Channel: ChannelSerial}, WithRunRoot(runRoot))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	ctx := context.Background()
	if err := q.StartVM(ctx); err != nil {
		t.Fatalf("StartVM: %v", err)
	}
	pid := q.PIDs()[0]

	// Without a root filesystem the kernel panics, panic=1 reboots, and
	// -no-reboot turns the reboot into QEMU's exit.
	select {
	case <-q.Exited():
	case <-time.After(bootTimeout):
		q.StopVM(ctx)
		t.Fatalf("QEMU still runs %v after a boot that must panic:\n%s", bootTimeout, fileTail(q.ConsoleLogPath(), 2048))
	}
	if log := fileTail(q.ConsoleLogPath(), 8192); !strings.Contains(log, "Kernel panic") {
		t.Errorf("console log lacks the kernel panic:\n%s", log)
	}
	if err := q.StopVM(ctx); err != nil {
		t.Fatalf("StopVM after the guest died: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("QEMU pid %d still exists", pid)
	}
	assertNothingLeft(t, runRoot)
}

func TestQemuStartFailsOnRejectedOption(t *testing.T) {
	kernel, initrd := guestAssetsFromBuild(t)
	cfg := bootConfig(t, kernel, initrd)
	cfg.MachineAccelerators = "no-such-property=on"
	runRoot := t.TempDir()
	q, err := NewQemu("bad", cfg, AgentConfig{}, WithRunRoot(runRoot))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}

	err = q.StartVM(context.Background())
	var startErr *StartError
	if !errors.As(err, &startErr) {
		t.Fatalf("StartVM error = %v, want *StartError", err)
	}
	if !strings.Contains(startErr.QEMUStderr, "no-such-property") {
		t.Errorf("QEMU stderr = %q, want QEMU's complaint about no-such-property", startErr.QEMUStderr)
	}
	assertNothingLeft(t, runRoot)
}

// silentAgentCheck dials the agent socket and waits for a byte the guest
// never sends, so it fails at the deadline like an agent that never answers.
func silentAgentCheck(ctx context.Context, url string) error {
	path, ok := strings.CutPrefix(url, "unix://")
	if !ok {
		return fmt.Errorf("agent URL %q is not a unix socket", url)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(deadline)
	}
	_, err = conn.Read(make([]byte, 1))
	return err
}

func TestQemuAgentNeverAnswers(t *testing.T) {
	kernel, initrd := guestAssetsFromBuild(t)
	runRoot := t.TempDir()
	q, err := NewQemu("silent", bootConfig(t, kernel, initrd), AgentConfig{Channel: ChannelSerial},
		WithRunRoot(runRoot), WithStopTimeout(2*time.Second))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}

	err = StartVMAndWaitForAgent(context.Background(), q, silentAgentCheck, 3*time.Second)
	if !errors.Is(err, ErrAgentTimeout) {
		t.Fatalf("StartVMAndWaitForAgent error = %v, want ErrAgentTimeout", err)
	}
	select {
	case <-q.Exited():
	default:
		t.Errorf("Exited() open after the agent timeout: the VM was not stopped")
	}
	if pids := q.PIDs(); pids != nil {
		t.Errorf("PIDs() = %v after the agent timeout, want none", pids)
	}
	assertNothingLeft(t, runRoot)
}

// findVirtiofsd returns a virtiofsd binary: the Rust one where Debian
// installs it, or the C one of QEMU 7.2.
func findVirtiofsd(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("virtiofsd"); err == nil {
		return p
	}
	t.Skip("needs virtiofsd (Debian package virtiofsd, or qemu-system-common up to QEMU 7.2)")
	return ""
}

func TestQemuBootVariants(t *testing.T) {
	kernel, initrd := guestAssetsFromBuild(t)
	tests := []struct {
		name string
		cfg  func(t *testing.T, c *HypervisorConfig)
		pids int
	}{
		{"virtio-9p", func(t *testing.T, c *HypervisorConfig) { c.SharedFS = SharedFS9P }, 1},
		{"virtio-fs", func(t *testing.T, c *HypervisorConfig) {
			c.SharedFS = SharedFSVirtioFS
			c.VirtioFSDaemon = findVirtiofsd(t)
		}, 2},
		{"legacy serial", func(t *testing.T, c *HypervisorConfig) { c.UseLegacySerial = true }, 1},
		{"aia aplic", func(t *testing.T, c *HypervisorConfig) { c.AIA = AIAAPLIC }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := bootConfig(t, kernel, initrd)
			tc.cfg(t, &cfg)
			runRoot := t.TempDir()
			q, err := NewQemu("variant", cfg, AgentConfig{Channel: ChannelSerial}, WithRunRoot(runRoot), WithStopTimeout(2*time.Second))
			if err != nil {
				t.Fatalf("NewQemu: %v", err)
			}
			ctx := context.Background()
			defer q.StopVM(ctx)

			if err := q.StartVM(ctx); err != nil {
				t.Fatalf("StartVM: %v", err)
			}
			pids := q.PIDs()
			if len(pids) != tc.pids {
				t.Errorf("PIDs() = %v, want %d processes", pids, tc.pids)
			}
			if fs, ok := q.SharedFS(); ok {
				if info, err := os.Stat(fs.HostPath); err != nil || !info.IsDir() {
					t.Errorf("shared directory %s: %v", fs.HostPath, err)
				}
			}
			if err := waitForConsole(q.ConsoleLogPath(), initMarker, q.Exited(), bootTimeout); err != nil {
				t.Fatal(err)
			}
			if err := q.StopVM(ctx); err != nil {
				t.Fatalf("StopVM: %v", err)
			}
			for _, pid := range pids {
				if !processGone(pid) {
					t.Errorf("pid %d still exists after StopVM", pid)
				}
			}
			assertNothingLeft(t, runRoot)
		})
	}
}

// TestQemuKVMUnusableHere asks for KVM with the real prober and /dev/kvm. On
// an x86 build host qemu-system-riscv64 has no KVM accelerator, whatever
// /dev/kvm is, so the start must fail with the hint to the checker and TCG.
func TestQemuKVMUnusableHere(t *testing.T) {
	f, err := NewExecQEMUProber().ProbeQEMU(requireQEMU(t))
	if err != nil {
		t.Fatalf("probing QEMU: %v", err)
	}
	if slices.Contains(f.Accelerators, AccelKVM) && NewKVMDevice(defaultKVMDevice).Usable() == nil {
		t.Skip("needs a host where KVM cannot run riscv64 guests; this one can")
	}
	kernel, initrd := guestAssetsFromBuild(t)
	cfg := bootConfig(t, kernel, initrd)
	cfg.Accelerator = AccelKVM
	runRoot := t.TempDir()
	q, err := NewQemu("kvm", cfg, AgentConfig{}, WithRunRoot(runRoot))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}

	err = q.StartVM(context.Background())
	if !errors.Is(err, ErrKVMUnusable) {
		t.Fatalf("StartVM error = %v, want ErrKVMUnusable", err)
	}
	for _, want := range []string{"kata-runtime check", `accelerator = "tcg"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StartVM error = %q, want it to contain %q", err, want)
		}
	}
	assertNothingLeft(t, runRoot)
}
