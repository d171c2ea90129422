package firecracker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
)

// versionLine matches the first line `firecracker --version` prints, for
// example "Firecracker v1.12.0" or "Firecracker v1.13.0-dev".
var versionLine = regexp.MustCompile(`^Firecracker v([0-9]+\.[0-9]+\.[0-9]+\S*)`)

// Version runs `path --version` and returns the version it prints, without
// the leading "v" (for example "1.12.0").
func Version(ctx context.Context, path string) (string, error) {
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", path, err)
	}
	return ParseVersion(out)
}

// ParseVersion extracts the version from `firecracker --version` output. The
// version is on the first non-empty line; the snapshot versions that follow
// are ignored.
func ParseVersion(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		m := versionLine.FindSubmatch(line)
		if m == nil {
			return "", fmt.Errorf("unexpected firecracker --version output %q: want a first line like \"Firecracker v1.12.0\"", line)
		}
		return string(m[1]), nil
	}
	return "", fmt.Errorf("empty firecracker --version output: want a first line like \"Firecracker v1.12.0\"")
}
