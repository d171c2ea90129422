//go:build e2e

package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
)

// guestKernel returns the kernel that nested guests boot: KATA_E2E_GUEST_KERNEL,
// or the newest /boot/vmlinux-* (Debian's riscv64 kernel image, an
// uncompressed Image that QEMU loads as it is).
func guestKernel(t *testing.T) string {
	t.Helper()
	if k := os.Getenv("KATA_E2E_GUEST_KERNEL"); k != "" {
		return k
	}
	found, _ := filepath.Glob("/boot/vmlinux-*")
	if len(found) == 0 {
		t.Skip("needs a riscv64 kernel image: none at /boot/vmlinux-*; set KATA_E2E_GUEST_KERNEL")
	}
	sort.Strings(found)
	return found[len(found)-1]
}

// staticBusybox returns a statically linked busybox for the guest's init,
// which has no libraries to load.
func staticBusybox(t *testing.T) string {
	t.Helper()
	p := os.Getenv("KATA_E2E_BUSYBOX")
	if p == "" {
		p = "/bin/busybox"
	}
	f, err := elf.Open(p)
	if err != nil {
		t.Skipf("needs a static riscv64 busybox (Debian package busybox-static) at %s or KATA_E2E_BUSYBOX: %v", p, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_RISCV {
		t.Fatalf("%s is for %s, want riscv64", p, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked; install busybox-static or set KATA_E2E_BUSYBOX", p)
		}
	}
	return p
}

// writeInitramfs writes a gzip-compressed newc archive with busybox and an
// init script that prints marker and powers the guest off.
func writeInitramfs(t *testing.T, busybox, marker, out string) {
	t.Helper()
	bb, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatalf("reading busybox: %v", err)
	}
	init := fmt.Sprintf("#!/bin/busybox sh\n/bin/busybox echo %s\n/bin/busybox poweroff -f\n", marker)

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	w := cpio.Newc.Writer(gz)
	records := []cpio.Record{
		cpio.Directory("bin", 0o755),
		cpio.StaticFile("bin/busybox", string(bb), 0o755),
		cpio.Directory("dev", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticFile("init", init, 0o755),
	}
	if err := cpio.WriteRecords(w, records); err != nil {
		t.Fatalf("writing the initramfs records: %v", err)
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatalf("writing the cpio trailer: %v", err)
	}
	if err := gz.Close(); err != nil {
		t.Fatalf("closing the gzip stream: %v", err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("writing the initramfs: %v", err)
	}
}

// bootNestedGuest boots a guest under KVM on the given -machine value with
// the kind of QEMU command line that the QEMU backend uses: KVM, the host's
// CPU model and no M-mode firmware. QEMU rejects M-mode firmware together
// with KVM, because KVM itself provides the SBI. The guest's init prints a
// random marker and powers off, and the test fails unless the console shows
// the marker.
func bootNestedGuest(t *testing.T, machine string) {
	t.Helper()
	if !hostHasH(t) {
		t.Skip("the host has no H extension (KATA_E2E_HOST_H=absent), so there is no KVM")
	}
	requireRoot(t)
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Fatalf("/dev/kvm is missing on a host with the H extension (%v): is the kvm module loaded?", err)
	}
	qemu, err := exec.LookPath("qemu-system-riscv64")
	if err != nil {
		t.Skip("needs qemu-system-riscv64 (Debian package qemu-system-riscv)")
	}
	kernel := guestKernel(t)
	busybox := staticBusybox(t)

	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		t.Fatalf("reading a random marker: %v", err)
	}
	marker := "kata-e2e-guest-up-" + hex.EncodeToString(nonce)
	initrd := filepath.Join(t.TempDir(), "initrd.cpio.gz")
	writeInitramfs(t, busybox, marker, initrd)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{
		"-machine", machine, "-cpu", "host", "-bios", "none",
		"-m", "256M", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
		"-kernel", kernel, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1",
	}
	start := time.Now()
	out, err := exec.CommandContext(ctx, qemu, args...).CombinedOutput()
	t.Logf("guest ran for %.1f s", time.Since(start).Seconds())
	if ctx.Err() != nil {
		t.Fatalf("the guest did not power off within 3 min; console:\n%s", out)
	}
	if err != nil {
		t.Fatalf("%s %s: %v; output:\n%s", qemu, strings.Join(args, " "), err, out)
	}
	if !bytes.Contains(out, []byte(marker)) {
		t.Fatalf("the guest console lacks the marker %s printed by its init; console:\n%s", marker, out)
	}
}

func TestNestedGuestUnderKVM(t *testing.T) {
	bootNestedGuest(t, "virt,accel=kvm")
}

// TestNestedGuestWithAIA needs a host whose KVM offers AIA guest interrupt
// files. Without them an AIA guest hangs silently, so the test runs only
// when KATA_E2E_HOST_AIA=present declares them ('hostvm e2e --aia' sets it).
func TestNestedGuestWithAIA(t *testing.T) {
	if os.Getenv("KATA_E2E_HOST_AIA") != "present" {
		t.Skip("needs a host with AIA (Ssaia and IMSIC guest files); set KATA_E2E_HOST_AIA=present, as 'hostvm e2e --aia' does")
	}
	bootNestedGuest(t, "virt,accel=kvm,aia=aplic-imsic")
}
