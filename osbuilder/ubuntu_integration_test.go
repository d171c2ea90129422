//go:build integration

package osbuilder_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
)

// The Ubuntu path runs up to the network here: the keyring comes from
// Debian trixie's ubuntu-keyring package, and ports.ubuntu.com itself is
// out of reach of the machines these tests run on.

func TestUbuntuKeyringFromTrixie(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("apt-get with a private state directory downloads as root here")
	}
	ubuntu, _, err := distro.Lookup("ubuntu", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ubuntu.Keyring); err == nil {
		t.Skipf("the host has %s, so osbuilder would not fetch it", ubuntu.Keyring)
	}
	cache := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	path, err := distro.EnsureKeyring(ctx, ubuntu, distro.KeyringSource, runtime.GOARCH, cache)
	if err != nil {
		t.Fatalf("EnsureKeyring() error = %v", err)
	}
	if !strings.HasPrefix(path, cache) {
		t.Errorf("keyring path %s is outside the cache %s", path, cache)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// An OpenPGP binary keyring starts with a packet tag byte (bit 7 set).
	if len(data) < 100 || data[0]&0x80 == 0 {
		t.Errorf("%s (%d bytes) does not look like an OpenPGP keyring", path, len(data))
	}
	if gpg, err := exec.LookPath("gpg"); err == nil {
		out, err := exec.Command(gpg, "--show-keys", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Ubuntu Archive") {
			t.Errorf("gpg --show-keys %s: %v\n%s", path, err, out)
		}
	}
}

func TestUbuntuMirrorUnreachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, like every rootfs build")
	}
	dir := t.TempDir()
	osb := filepath.Join(dir, "osbuilder")
	build := exec.Command("go", "build", "-o", osb, "./osbuilder/cmd/osbuilder")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A minimal riscv64 ELF header passes the agent check.
	agent := filepath.Join(dir, "kata-agent")
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	hdr[16], hdr[18], hdr[20], hdr[52] = 2, 243, 1, 64
	if err := os.WriteFile(agent, hdr, 0o755); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(osb, "rootfs", "--distro", "ubuntu", "--agent-init", "--agent", agent,
		"--cache-dir", filepath.Join(repoRoot(), "build", "cache"), "--out", filepath.Join(dir, "rootfs")).CombinedOutput()
	if err == nil {
		t.Skipf("ports.ubuntu.com is reachable from this machine; the build went through:\n%s", out)
	}
	for _, want := range []string{"http://ports.ubuntu.com/ubuntu-ports", "--mirror"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "rootfs")); !os.IsNotExist(err) {
		t.Errorf("failed build left %s behind (%v)", filepath.Join(dir, "rootfs"), err)
	}
}
