package qemucaps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Caps are the capabilities Probe found in a QEMU binary.
type Caps struct {
	// Path is the probed binary.
	Path string
	// Version is the parsed release, VersionLine the first line of
	// --version, with the distribution's package version.
	Version     Version
	VersionLine string
	// AIAModes are the values the virt machine's aia= property accepts, as
	// QEMU spells them ("none", "aplic", "aplic-imsic"). It is empty when the
	// property does not exist, and then QEMU must not be given aia= at all.
	AIAModes []string
	// Seccomp reports whether QEMU was built with -sandbox support.
	Seccomp bool
}

// SupportsAIA reports whether the virt machine accepts aia=mode.
func (c *Caps) SupportsAIA(mode string) bool {
	for _, m := range c.AIAModes {
		if m == mode {
			return true
		}
	}
	return false
}

// CheckMinVersion returns an error naming the version and the minimum when
// the binary is older than MinVersion.
func (c *Caps) CheckMinVersion() error {
	if c.Version.Less(MinVersion) {
		return fmt.Errorf("QEMU %s at %s is older than %s, the first release with KVM for RISC-V: install QEMU %s or later",
			c.Version, c.Path, MinVersion, MinVersion)
	}
	return nil
}

// probeTimeout bounds each QEMU run when ctx has no deadline. Each run only
// prints text, which takes well under a second on an idle machine.
const probeTimeout = 30 * time.Second

// Probe runs the QEMU binary at path three times: --version, -machine
// virt,help for the AIA modes, and "-sandbox on -version", which QEMU
// rejects when it was built without seccomp. It needs no KVM and starts no VM.
func Probe(ctx context.Context, path string) (*Caps, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probeTimeout)
		defer cancel()
	}
	caps := &Caps{Path: path}

	out, err := run(ctx, path, "--version")
	if err != nil {
		return nil, err
	}
	caps.VersionLine, _, _ = strings.Cut(strings.TrimSpace(out), "\n")
	if caps.Version, err = ParseVersion(out); err != nil {
		return nil, fmt.Errorf("%s --version printed %q: %w; is it a QEMU binary?", path, caps.VersionLine, err)
	}

	out, err = run(ctx, path, "-machine", "virt,help")
	if err != nil {
		return nil, fmt.Errorf("listing the virt machine's options: %w", err)
	}
	caps.AIAModes = ParseAIAModes(out)

	// QEMU handles -sandbox before -version: a binary without seccomp exits
	// with "-sandbox support is not enabled in this QEMU binary".
	if _, err := run(ctx, path, "-sandbox", "on", "-version"); err == nil {
		caps.Seccomp = true
	} else if ctx.Err() != nil {
		return nil, err
	}
	return caps, nil
}

// run executes QEMU with args and returns its standard output. The error
// carries the command line, the exit status and QEMU's standard error.
func run(ctx context.Context, path string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second

	err := cmd.Run()
	if err == nil {
		return stdout.String(), nil
	}
	line := strings.Join(append([]string{path}, args...), " ")
	var execErr *exec.Error
	if errors.As(err, &execErr) {
		return "", fmt.Errorf("running %s: %w: install QEMU (Debian package qemu-system-misc) or fix the hypervisor path", line, err)
	}
	if ctx.Err() != nil {
		return "", fmt.Errorf("running %s: %w", line, ctx.Err())
	}
	return "", fmt.Errorf("running %s: %w: %s", line, err, strings.TrimSpace(stderr.String()))
}

var (
	aiaLineRE   = regexp.MustCompile(`(?m)^\s*aia=<[^>]*>\s*-\s*(.*)$`)
	aiaValuesRE = regexp.MustCompile(`(?i)valid values are\s+([^.]*)`)
)

// ParseAIAModes reads the aia= property's valid values from `-machine
// virt,help` output. QEMU 7.2 prints
//
//	aia=<string> - Set type of AIA interrupt conttoller. Valid values are none, aplic, and aplic-imsic.
//
// It returns nil when the property is missing or lists no values.
func ParseAIAModes(help string) []string {
	line := aiaLineRE.FindStringSubmatch(help)
	if line == nil {
		return nil
	}
	values := aiaValuesRE.FindStringSubmatch(line[1])
	if values == nil {
		return nil
	}
	var modes []string
	for _, field := range strings.Split(values[1], ",") {
		field = strings.TrimSpace(field)
		field = strings.TrimPrefix(field, "and ")
		field = strings.TrimPrefix(field, "or ")
		for _, m := range strings.Fields(field) {
			if m == "and" || m == "or" {
				continue
			}
			modes = append(modes, m)
		}
	}
	return modes
}
