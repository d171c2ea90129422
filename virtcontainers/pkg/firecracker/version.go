package firecracker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
)

// versionLine matches the first line `firecracker --version` or
// `jailer --version` prints, for example "Firecracker v1.12.0" or
// "Jailer v1.13.0-dev".
var versionLine = regexp.MustCompile(`^(Firecracker|Jailer) v([0-9]+\.[0-9]+\.[0-9]+\S*)`)

// Version runs `path --version` on a Firecracker binary and returns the
// version it prints, without the leading "v" (for example "1.12.0").
func Version(ctx context.Context, path string) (string, error) {
	return runVersion(ctx, path, "Firecracker")
}

// JailerVersion runs `path --version` on Firecracker's jailer and returns
// the version it prints. Firecracker releases ship the jailer with the same
// version number, so a check can compare the two.
func JailerVersion(ctx context.Context, path string) (string, error) {
	return runVersion(ctx, path, "Jailer")
}

func runVersion(ctx context.Context, path, program string) (string, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", path, err)
	}
	return parseVersion(out, program)
}

// ParseVersion extracts the version from `firecracker --version` output. The
// version is on the first non-empty line; the snapshot versions that follow
// are ignored.
func ParseVersion(out []byte) (string, error) {
	return parseVersion(out, "Firecracker")
}

// parseVersion extracts the version of program ("Firecracker" or "Jailer")
// from its --version output.
func parseVersion(out []byte, program string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		m := versionLine.FindSubmatch(line)
		if m == nil || string(m[1]) != program {
			return "", fmt.Errorf("unexpected --version output %q: want a first line like \"%s v1.12.0\"", line, program)
		}
		return string(m[2]), nil
	}
	return "", fmt.Errorf("empty --version output: want a first line like \"%s v1.12.0\"", program)
}
