//go:build e2e

package e2e

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

const capableLine = "System is capable of running Kata Containers"

// runCheck runs 'kata-runtime check' and returns its combined output and
// exit code.
func runCheck(t *testing.T) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	out, err := exec.CommandContext(ctx, binary(t, "kata-runtime"), "check").CombinedOutput()
	t.Logf("kata-runtime check output:\n%s", out)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr):
		return string(out), exitErr.ExitCode()
	default:
		t.Fatalf("running kata-runtime check: %v", err)
		return "", -1
	}
}

func TestKataRuntimeCheck(t *testing.T) {
	if !hostHasH(t) {
		t.Skip("the host has no H extension (KATA_E2E_HOST_H=absent); TestKataRuntimeCheckWithoutH covers it")
	}
	requireRoot(t)

	out, code := runCheck(t)
	if code != 0 {
		t.Errorf("kata-runtime check exit code = %d, want 0", code)
	}
	if !strings.Contains(out, capableLine) {
		t.Errorf("kata-runtime check output lacks %q", capableLine)
	}
}

// missingHRE matches a message that names the missing H extension.
var missingHRE = regexp.MustCompile(`(?i)\bH[- ]extension|hypervisor extension`)

func TestKataRuntimeCheckWithoutH(t *testing.T) {
	if hostHasH(t) {
		t.Skip("the host has the H extension; 'hostvm e2e' runs this test in a second boot with h=false")
	}
	requireRoot(t)

	out, code := runCheck(t)
	if code != 1 {
		t.Errorf("kata-runtime check exit code = %d, want 1", code)
	}
	if !missingHRE.MatchString(out) {
		t.Errorf("kata-runtime check output does not name the missing H extension (want a match for %s)", missingHRE)
	}
	if strings.Contains(out, capableLine) {
		t.Errorf("kata-runtime check output claims %q on a host without H", capableLine)
	}
}
