package main

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/check"
)

// requireForeignHost skips unless this machine's kernel is not riscv64, which
// is where the real-host tests below know the expected verdict.
func requireForeignHost(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/arch")
	if err != nil {
		t.Skipf("needs /proc/sys/kernel/arch (Linux 6.1 or later): %v", err)
	}
	if strings.TrimSpace(string(b)) == "riscv64" {
		t.Skip("runs on hosts that are not riscv64; on a riscv64 host the verdict depends on the hardware")
	}
}

// TestCheckCommandForeignHost runs `kata-runtime check --verbose` against
// this machine. On an x86_64 build host, natively or as a riscv64 binary
// under qemu-user, it must fail the architecture check and exit 1.
func TestCheckCommandForeignHost(t *testing.T) {
	requireForeignHost(t)

	var stdout, stderr bytes.Buffer
	code := runCheckTo(&stdout, &stderr, globalOptions{}, []string{"--verbose"})
	if code != 1 {
		t.Errorf("exit code = %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"FAIL  architecture: this is not a riscv64 host", check.MsgNotCapable, "fix: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if runtime.GOARCH == "riscv64" && !strings.Contains(out, "user-mode emulation (qemu-user)") {
		t.Errorf("a riscv64 binary on a foreign kernel does not explain the emulation:\n%s", out)
	}
	if strings.Contains(out, "PASS  kvm") {
		t.Errorf("output reports a KVM result on a host that is not riscv64:\n%s", out)
	}
}

func TestCheckCommandJSON(t *testing.T) {
	requireForeignHost(t)

	var stdout, stderr bytes.Buffer
	code := runCheckTo(&stdout, &stderr, globalOptions{}, []string{"--json"})
	if code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	var r check.Report
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, stdout.String())
	}
	if r.Capable || len(r.Checks) != 1 || r.Checks[0].Result != check.Fail {
		t.Errorf("report = %+v, want one failed architecture check", r)
	}
}

func TestCheckCommandUpstreamFlags(t *testing.T) {
	requireForeignHost(t)
	for _, args := range [][]string{{"--no-network-checks"}, {"-n"}, {"--strict"}, {"-s", "-v"}} {
		var stdout, stderr bytes.Buffer
		if code := runCheckTo(&stdout, &stderr, globalOptions{}, args); code != 1 {
			t.Errorf("check %q: exit code %d, want 1 (the architecture verdict), stderr %q", args, code, stderr.String())
		}
	}
}

func TestCheckCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"extra"}} {
		var stdout, stderr bytes.Buffer
		if code := runCheckTo(&stdout, &stderr, globalOptions{}, args); code != 2 {
			t.Errorf("check %q: exit code %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("check %q printed no usage error", args)
		}
	}
}

func TestCheckCommandRegistered(t *testing.T) {
	for _, name := range []string{"check", "kata-check"} {
		if commands[name] == nil || commands[name].name != "check" {
			t.Errorf("command %q is not registered as check", name)
		}
	}
}
