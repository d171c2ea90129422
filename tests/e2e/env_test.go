//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// hostHasH reports whether the host under test is expected to have the H
// extension. The tests take this from KATA_E2E_HOST_H rather than from
// /proc/cpuinfo, because reading it from the host would make the checks
// agree with whatever the host is.
func hostHasH(t *testing.T) bool {
	t.Helper()
	switch v := os.Getenv("KATA_E2E_HOST_H"); v {
	case "", "present":
		return true
	case "absent":
		return false
	default:
		t.Fatalf("invalid KATA_E2E_HOST_H %q: want present or absent", v)
		return false
	}
}

// buildDir returns the directory with the riscv64 binaries of 'make build'.
func buildDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("KATA_E2E_BUILD_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("HOSTVM_BUILD_DIR"); d != "" {
		return d
	}
	// go test runs a test binary in its package directory, tests/e2e.
	d, err := filepath.Abs(filepath.Join("..", "..", "build"))
	if err != nil {
		t.Fatalf("resolving the build directory: %v", err)
	}
	return d
}

// requireRoot skips tests that need root for /dev/kvm and /dev/vhost-vsock.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: kata-runtime check and KVM guests open /dev/kvm and /dev/vhost-vsock")
	}
}

// binary returns the path of a riscv64 binary from 'make build'.
func binary(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(buildDir(t), "riscv64", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is missing (%v): run 'make build' or set KATA_E2E_BUILD_DIR", p, err)
	}
	return p
}
