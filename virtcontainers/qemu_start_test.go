package virtcontainers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// guestAssets creates an empty kernel and initrd and returns a TCG
// configuration that uses them with the QEMU binary at qemuPath.
func guestAssets(t *testing.T, qemuPath string) HypervisorConfig {
	t.Helper()
	dir := t.TempDir()
	cfg := baseConfig()
	cfg.Path = qemuPath
	cfg.KernelPath = filepath.Join(dir, "vmlinux.container")
	cfg.InitrdPath = filepath.Join(dir, "kata-containers-initrd.img")
	for _, p := range []string{cfg.KernelPath, cfg.InitrdPath} {
		if err := os.WriteFile(p, []byte("not a kernel"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

// writeScript writes an executable shell script standing in for QEMU.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-qemu")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// assertNothingLeft fails when the run root holds anything.
func assertNothingLeft(t testing.TB, runRoot string) {
	t.Helper()
	entries, err := os.ReadDir(runRoot)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("run root %s still holds %s after a failed start", runRoot, e.Name())
	}
}

func newTestQemu(t *testing.T, cfg HypervisorConfig, runRoot string, prober QEMUProber, kvm HostKVM) *Qemu {
	t.Helper()
	q, err := NewQemu("sb1", cfg, AgentConfig{},
		WithRunRoot(runRoot),
		WithQEMUProber(prober),
		WithHostKVM(kvm),
		WithVhostVsockDevice(filepath.Join(t.TempDir(), "no-vhost-vsock")))
	if err != nil {
		t.Fatalf("NewQemu: %v", err)
	}
	return q
}

func TestStartVMBadInput(t *testing.T) {
	tcgOnly := fakeProber{features: qemu72}
	tests := []struct {
		name     string
		cfg      func(t *testing.T, c *HypervisorConfig)
		prober   QEMUProber
		kvm      fakeKVM
		wantErr  error
		wantText []string
	}{
		{
			name:     "missing kernel",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.KernelPath = "/nonexistent/vmlinux.container" },
			prober:   tcgOnly,
			wantErr:  os.ErrNotExist,
			wantText: []string{"kernel", "/nonexistent/vmlinux.container"},
		},
		{
			name: "missing image",
			cfg: func(t *testing.T, c *HypervisorConfig) {
				c.InitrdPath = ""
				c.ImagePath = "/nonexistent/kata-containers.img"
			},
			prober:   tcgOnly,
			wantErr:  os.ErrNotExist,
			wantText: []string{"image", "/nonexistent/kata-containers.img"},
		},
		{
			name:     "missing QEMU binary",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.Path = "/nonexistent/qemu-system-riscv64" },
			prober:   NewExecQEMUProber(),
			wantErr:  os.ErrNotExist,
			wantText: []string{"/nonexistent/qemu-system-riscv64", "qemu-system-misc"},
		},
		{
			name:     "QEMU without AIA",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.AIA = AIAAPLICIMSIC },
			prober:   fakeProber{features: QEMUFeatures{Version: QEMUVersion{Major: 6, Minor: 2, Micro: 0}, Accelerators: []Accelerator{AccelTCG}}},
			wantErr:  ErrQEMUTooOld,
			wantText: []string{"aplic-imsic", "6.2.0"},
		},
		{
			name:     "KVM missing from the QEMU build",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.Accelerator = AccelKVM },
			prober:   tcgOnly,
			wantErr:  ErrKVMUnusable,
			wantText: []string{"kata-runtime check", `accelerator = "tcg"`},
		},
		{
			name:     "QEMU too old for KVM",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.Accelerator = AccelKVM },
			prober:   fakeProber{features: QEMUFeatures{Version: QEMUVersion{Major: 6, Minor: 2}, Accelerators: []Accelerator{AccelKVM, AccelTCG}}},
			wantErr:  ErrQEMUTooOld,
			wantText: []string{"6.2.0", "7.0.0", `accelerator = "tcg"`},
		},
		{
			name:     "KVM device unusable",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.Accelerator = AccelKVM },
			prober:   fakeProber{features: kvmQEMU},
			kvm:      fakeKVM{usableErr: os.ErrPermission},
			wantErr:  ErrKVMUnusable,
			wantText: []string{"kata-runtime check", `accelerator = "tcg"`},
		},
		{
			name:     "aplic-imsic under KVM without host AIA",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.Accelerator = AccelKVM; c.AIA = AIAAPLICIMSIC },
			prober:   fakeProber{features: kvmQEMU},
			kvm:      fakeKVM{hasAIA: false},
			wantErr:  ErrNotSupported,
			wantText: []string{"aplic-imsic"},
		},
		{
			name:     "virtio-fs without daemon",
			cfg:      func(t *testing.T, c *HypervisorConfig) { c.SharedFS = SharedFSVirtioFS },
			prober:   tcgOnly,
			wantErr:  ErrInvalidConfig,
			wantText: []string{"virtio_fs_daemon"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := guestAssets(t, writeScript(t, "exit 1\n"))
			tc.cfg(t, &cfg)
			runRoot := t.TempDir()
			q := newTestQemu(t, cfg, runRoot, tc.prober, tc.kvm)

			err := q.StartVM(context.Background())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("StartVM error = %v, want %v", err, tc.wantErr)
			}
			for _, text := range tc.wantText {
				if !strings.Contains(err.Error(), text) {
					t.Errorf("StartVM error = %q, want it to contain %q", err, text)
				}
			}
			assertNothingLeft(t, runRoot)
			select {
			case <-q.Exited():
			default:
				t.Errorf("Exited() still open after a failed start")
			}
		})
	}
}

func TestStartVMQEMUExitsAtStartup(t *testing.T) {
	qemu := writeScript(t, "echo 'qemu-system-riscv64: -machine virt: Property virt-machine.bogus not found' >&2\nexit 1\n")
	cfg := guestAssets(t, qemu)
	runRoot := t.TempDir()
	q := newTestQemu(t, cfg, runRoot, fakeProber{features: qemu72}, fakeKVM{})

	err := q.StartVM(context.Background())
	var startErr *StartError
	if !errors.As(err, &startErr) {
		t.Fatalf("StartVM error = %v (%T), want *StartError", err, err)
	}
	if !errors.Is(err, ErrVMExited) {
		t.Errorf("StartVM error = %v, want ErrVMExited", err)
	}
	if !strings.Contains(startErr.QEMUStderr, "virt-machine.bogus") {
		t.Errorf("StartError.QEMUStderr = %q, want QEMU's message", startErr.QEMUStderr)
	}
	if !strings.Contains(err.Error(), "virt-machine.bogus") {
		t.Errorf("StartVM error text = %q, want QEMU's stderr in it", err)
	}
	assertNothingLeft(t, runRoot)
	if pids := q.PIDs(); pids != nil {
		t.Errorf("PIDs() = %v after a failed start, want none", pids)
	}
}

func TestStartVMQEMUHangsWithoutQMP(t *testing.T) {
	// A QEMU that never opens its QMP socket: StartVM must give up at the
	// context deadline and kill it.
	qemu := writeScript(t, "echo started >&2\nexec sleep 60\n")
	cfg := guestAssets(t, qemu)
	runRoot := t.TempDir()
	q := newTestQemu(t, cfg, runRoot, fakeProber{features: qemu72}, fakeKVM{})

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := q.StartVM(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("StartVM error = %v, want a deadline error", err)
	}
	select {
	case <-q.Exited():
	case <-time.After(5 * time.Second):
		t.Fatalf("the fake QEMU still runs after the failed start")
	}
	assertNothingLeft(t, runRoot)
}

func TestStartVMTwice(t *testing.T) {
	cfg := guestAssets(t, writeScript(t, "exit 1\n"))
	q := newTestQemu(t, cfg, t.TempDir(), fakeProber{features: qemu72}, fakeKVM{})
	_ = q.StartVM(context.Background())
	if err := q.StartVM(context.Background()); !errors.Is(err, ErrVMStarted) {
		t.Errorf("second StartVM error = %v, want ErrVMStarted", err)
	}
}

func TestStopVMBeforeStart(t *testing.T) {
	q := newTestQemu(t, baseConfig(), t.TempDir(), fakeProber{features: qemu72}, fakeKVM{})
	if err := q.StopVM(context.Background()); err != nil {
		t.Fatalf("StopVM before start: %v", err)
	}
	if err := q.StopVM(context.Background()); err != nil {
		t.Fatalf("second StopVM: %v", err)
	}
	if _, err := q.AgentURL(); !errors.Is(err, ErrVMNotRunning) {
		t.Errorf("AgentURL after stop error = %v, want ErrVMNotRunning", err)
	}
	if _, err := q.HotplugBlock(context.Background(), BlockDevice{ID: "d", Path: "/x"}); !errors.Is(err, ErrVMNotRunning) {
		t.Errorf("HotplugBlock after stop error = %v, want ErrVMNotRunning", err)
	}
}
