package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// errPreflight marks failures of the checks that run before any work starts.
var errPreflight = errors.New("preflight check failed")

const binfmtFix = "install and register qemu-user: 'apt-get install qemu-user-static binfmt-support' " +
	"then 'update-binfmts --enable qemu-riscv64'"

// checkBinfmt verifies that the kernel runs riscv64 ELF binaries through
// qemu-user, which mmdebstrap needs to configure a riscv64 root filesystem.
// binfmtDir is normally /proc/sys/fs/binfmt_misc.
func checkBinfmt(binfmtDir string) error {
	if _, err := os.Stat(filepath.Join(binfmtDir, "register")); err != nil {
		return fmt.Errorf("%w: binfmt_misc is not mounted at %s: run 'mount -t binfmt_misc binfmt_misc %s', then %s",
			errPreflight, binfmtDir, binfmtDir, binfmtFix)
	}

	entry := filepath.Join(binfmtDir, "qemu-riscv64")
	data, err := os.ReadFile(entry)
	if err != nil {
		return fmt.Errorf("%w: no binfmt_misc entry for riscv64 at %s: %s", errPreflight, entry, binfmtFix)
	}

	var enabled bool
	var interpreter string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "enabled":
			enabled = true
		case strings.HasPrefix(line, "interpreter "):
			interpreter = strings.TrimPrefix(line, "interpreter ")
		}
	}
	if !enabled {
		return fmt.Errorf("%w: the binfmt_misc entry %s is disabled: run 'update-binfmts --enable qemu-riscv64'", errPreflight, entry)
	}
	if interpreter == "" {
		return fmt.Errorf("%w: the binfmt_misc entry %s names no interpreter: %s", errPreflight, entry, binfmtFix)
	}
	// With the F flag the kernel opened the interpreter at registration and a
	// missing file no longer matters, but a missing file still means the
	// package was removed, so it is reported either way.
	if _, err := os.Stat(interpreter); err != nil {
		return fmt.Errorf("%w: the riscv64 interpreter %s is missing: %s", errPreflight, interpreter, binfmtFix)
	}
	return nil
}

// checkTools reports the first of the named programs that is not on PATH,
// with the Debian package that provides it.
func checkTools(tools map[string]string) error {
	for tool, pkg := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found on PATH: run 'apt-get install %s'", errPreflight, tool, pkg)
		}
	}
	return nil
}

// checkFreeSpace verifies that the file system holding dir has at least need
// bytes available to unprivileged writers.
func checkFreeSpace(dir string, need uint64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("checking free space in %s: %w", dir, err)
	}
	avail := st.Bavail * uint64(st.Bsize)
	if avail < need {
		return fmt.Errorf("%w: %s has %.1f GiB free, the build needs %.1f GiB: free some space or pass --cache DIR on another file system",
			errPreflight, dir, gib(avail), gib(need))
	}
	return nil
}

func gib(n uint64) float64 { return float64(n) / (1 << 30) }

// checkMirror fetches the suite's Release file so that an unreachable or
// wrong mirror fails in seconds instead of deep inside mmdebstrap.
func checkMirror(ctx context.Context, mirror, suite string) error {
	url := strings.TrimSuffix(mirror, "/") + "/dists/" + suite + "/Release"
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return fmt.Errorf("%w: invalid mirror URL %q: %v; pass --mirror URL, such as %s", errPreflight, mirror, err, defaultMirror)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: the Debian mirror %s is unreachable (%v): check the network or pass another one with --mirror URL",
			errPreflight, mirror, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: the Debian mirror %s returned %s for %s: pass a mirror that carries %s with --mirror URL",
			errPreflight, mirror, resp.Status, url, suite)
	}
	return nil
}

// qemuVersion is the major and minor version of a QEMU binary.
type qemuVersion struct{ major, minor int }

func (v qemuVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

var qemuVersionRE = regexp.MustCompile(`QEMU emulator version (\d+)\.(\d+)`)

// parseQEMUVersion reads the output of 'qemu-system-riscv64 --version'.
func parseQEMUVersion(out string) (qemuVersion, error) {
	m := qemuVersionRE.FindStringSubmatch(out)
	if m == nil {
		return qemuVersion{}, fmt.Errorf("no version in QEMU output %q", strings.TrimSpace(out))
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return qemuVersion{major, minor}, nil
}

func probeQEMUVersion(ctx context.Context, qemu string) (qemuVersion, error) {
	out, err := exec.CommandContext(ctx, qemu, "--version").CombinedOutput()
	if err != nil {
		return qemuVersion{}, fmt.Errorf("running %s --version: %w: install qemu-system-misc or pass --qemu PATH", qemu, err)
	}
	return parseQEMUVersion(string(out))
}

// minAIAVersion is the first outer QEMU with which the emulated host gets
// AIA (APLIC and IMSIC with guest interrupt files) that its KVM can use.
// QEMU 7.2 exposes no AIA to the emulated host, and an AIA guest started
// inside it then hangs without a message.
var minAIAVersion = qemuVersion{10, 0}

func checkAIASupport(v qemuVersion, qemu string) error {
	if v.major > minAIAVersion.major || (v.major == minAIAVersion.major && v.minor >= minAIAVersion.minor) {
		return nil
	}
	return fmt.Errorf("%w: --aia needs QEMU %s or later as the outer emulator, but %s is QEMU %s; "+
		"install qemu-system-misc from bookworm-backports ('apt-get install -t bookworm-backports qemu-system-misc') "+
		"or pass a QEMU 10 binary with --qemu PATH", errPreflight, minAIAVersion, qemu, v)
}
