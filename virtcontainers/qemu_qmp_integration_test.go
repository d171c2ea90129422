//go:build integration

package virtcontainers

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startPausedQEMU starts qemu-system-riscv64 with -S (the guest never runs)
// and a pcie-root-port, and returns the path of its QMP socket.
func startPausedQEMU(t *testing.T) (qmpPath string, proc *childProcess) {
	t.Helper()
	qemu := requireQEMU(t)

	dir := t.TempDir()
	qmpPath = filepath.Join(dir, "qmp.sock")
	cmd := exec.Command(qemu,
		"-machine", "virt,accel=tcg", "-cpu", "rv64", "-m", "128M", "-S",
		"-nodefaults", "-no-user-config", "-nographic",
		"-qmp", "unix:"+qmpPath+",server=on,wait=off",
		"-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x10",
	)
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	proc, err := startChild(cmd)
	if err != nil {
		t.Fatalf("starting %s: %v", qemu, err)
	}
	t.Cleanup(func() {
		proc.kill()
		if t.Failed() {
			t.Logf("QEMU stderr: %s", stderr.String())
		}
	})
	return qmpPath, proc
}

func requireQEMU(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("qemu-system-riscv64")
	if err != nil {
		t.Skip("needs qemu-system-riscv64 (Debian package qemu-system-misc)")
	}
	return path
}

func TestQMPAgainstPausedQEMU(t *testing.T) {
	qmpPath, proc := startPausedQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	conn, err := dialQMP(ctx, qmpPath, proc.exited)
	if err != nil {
		t.Fatalf("dialQMP: %v", err)
	}
	defer conn.close()

	if conn.mon.Version == nil || conn.mon.Version.QEMU.Major < 7 {
		t.Errorf("QMP greeting version = %+v, want QEMU 7 or newer", conn.mon.Version)
	}

	st, err := conn.queryStatus(ctx)
	if err != nil {
		t.Fatalf("query-status: %v", err)
	}
	if st.Status != "prelaunch" || st.Running {
		t.Errorf("query-status = %+v, want prelaunch and not running", st)
	}

	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := conn.blockdevAddFile(ctx, "drive-disk0", disk, true); err != nil {
		t.Fatalf("blockdev-add: %v", err)
	}
	err = conn.deviceAdd(ctx, map[string]any{"driver": "virtio-blk-pci", "id": "disk0", "drive": "drive-disk0", "bus": "rp0"})
	if err != nil {
		t.Fatalf("device_add into rp0: %v", err)
	}

	var devices []qomProperty
	if err := conn.execute(ctx, "qom-list", map[string]any{"path": "/machine/peripheral"}, &devices); err != nil {
		t.Fatalf("qom-list: %v", err)
	}
	if !hasChild(devices, "disk0") {
		t.Errorf("qom-list /machine/peripheral = %v, want disk0 among them", devices)
	}

	delCtx, delCancel := context.WithTimeout(ctx, 10*time.Second)
	defer delCancel()
	if err := conn.deviceDel(delCtx, "disk0"); err != nil {
		t.Fatalf("device_del: %v", err)
	}
	if err := conn.blockdevDel(ctx, "drive-disk0"); err != nil {
		t.Fatalf("blockdev-del: %v", err)
	}

	if err := conn.execute(ctx, "quit", nil, nil); err != nil && !proc.hasExited() {
		t.Fatalf("quit: %v", err)
	}
	if !proc.waitExit(10 * time.Second) {
		t.Fatalf("QEMU still runs 10 s after quit")
	}
}

// qomProperty is one entry of a qom-list reply.
type qomProperty struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func hasChild(list []qomProperty, name string) bool {
	for _, item := range list {
		if item.Name == name {
			return true
		}
	}
	return false
}
