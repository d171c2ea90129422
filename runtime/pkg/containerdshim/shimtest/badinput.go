package shimtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
)

// BadInput is a `ctr run` whose task creation the shim must reject.
type BadInput struct {
	Name string
	// ID is the container id.
	ID string
	// Args are the flags of `ctr run` after --runtime, ending with the rootfs
	// and ID; the caller appends the command.
	Args []string
	// Want is the text the error must contain, usually the value at fault.
	Want string
}

// MustNotRun is the output of a BadInput's command, which must never run.
const MustNotRun = "the rejected container ran"

// evilQEMU is a hypervisor path that no configuration allows.
const evilQEMU = "/usr/local/bin/evil-qemu"

// failingQEMUMessage is the stderr line of the stand-in QEMU of
// failingQEMUScript when it fails a VM launch.
const failingQEMUMessage = "qemu-system-riscv64: stand-in QEMU of the bad-input test failed the launch"

// failingQEMUScript is a stand-in for QEMU. It passes the runtime's probes
// (-version and the help listings) to the real binary, named by the first
// verb, and fails every VM launch with the message of the second verb, as a
// QEMU that cannot start the machine does. Both verbs take shell-quoted words.
const failingQEMUScript = `#!/bin/sh
for arg in "$@"; do
	case "$arg" in
	-version | help | *,help) exec %s "$@" ;;
	esac
done
echo %s >&2
exit 1
`

// BadInputs writes variants of the valid configuration at configPath into
// dir and returns runs that each break one input. The configuration is
// missing, has an unknown key, or names a hypervisor binary that does not
// exist. The hypervisor fails the runtime's probe, or exits when it should
// start the VM. An annotation is not enabled, or names a hypervisor path
// outside valid_hypervisor_paths. The bundle's root path does not exist.
// rootfs is a valid root filesystem, and each container id starts with
// prefix.
func BadInputs(dir, configPath, rootfs, prefix string) ([]BadInput, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	valid := string(data)
	cfg, err := config.LoadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("loading the valid configuration: %w", err)
	}
	standIn := filepath.Join(dir, "qemu-system-riscv64")
	script := fmt.Sprintf(failingQEMUScript, shellQuote(cfg.Hypervisor.Path), shellQuote(failingQEMUMessage))
	if err := os.WriteFile(standIn, []byte(script), 0o755); err != nil {
		return nil, err
	}

	const section = "[hypervisor.qemu]\n"
	if !strings.Contains(valid, section) {
		return nil, fmt.Errorf("%s has no %s section", configPath, strings.TrimSpace(section))
	}
	noQEMU, err1 := SetKey(valid, "path", `path = "/nonexistent/qemu-system-riscv64"`)
	probeFails, err2 := SetKey(valid, "path", `path = "/bin/false"`)
	launchFails, err3 := SetKey(valid, "path", fmt.Sprintf("path = %q", standIn))
	pathAnnotation, err4 := SetKey(valid, "enable_annotations", `enable_annotations = ["path"]`)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, fmt.Errorf("deriving bad configurations from %s: %w", configPath, err)
	}
	variants := map[string]string{
		"unknown-key.toml":     strings.Replace(valid, section, section+"kernal = \"/boot/vmlinuz\"\n", 1),
		"no-qemu.toml":         noQEMU,
		"probe-fails.toml":     probeFails,
		"launch-fails.toml":    launchFails,
		"path-annotation.toml": pathAnnotation,
	}
	for name, text := range variants {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	configFlag := func(name string) []string { return []string{"--runtime-config-path", filepath.Join(dir, name)} }

	missing := filepath.Join(dir, "missing.toml")
	noRootfs := filepath.Join(dir, "no-rootfs")
	cases := []struct {
		name, id, want string
		flags          []string
		rootfs         string
	}{
		{"missing configuration", "nocfg", missing, []string{"--runtime-config-path", missing}, rootfs},
		{"unknown configuration key", "badkey", "kernal", configFlag("unknown-key.toml"), rootfs},
		{"hypervisor binary missing", "noqemu", "/nonexistent/qemu-system-riscv64", configFlag("no-qemu.toml"), rootfs},
		{"hypervisor probe fails", "falseqemu", "/bin/false", configFlag("probe-fails.toml"), rootfs},
		{"hypervisor launch fails", "failqemu", failingQEMUMessage, configFlag("launch-fails.toml"), rootfs},
		{"annotation not enabled", "annot", "io.katacontainers.config.hypervisor.path",
			[]string{"--runtime-config-path", configPath, "--annotation", "io.katacontainers.config.hypervisor.path=" + evilQEMU}, rootfs},
		{"hypervisor path not allowed", "evilpath", "valid_hypervisor_paths",
			[]string{"--runtime-config-path", filepath.Join(dir, "path-annotation.toml"), "--annotation", "io.katacontainers.config.hypervisor.path=" + evilQEMU}, rootfs},
		{"bundle without rootfs", "norootfs", noRootfs, []string{"--runtime-config-path", configPath}, noRootfs},
	}
	inputs := make([]BadInput, 0, len(cases))
	for _, c := range cases {
		id := prefix + c.id
		args := append(append([]string{}, c.flags...), "--rootfs", c.rootfs, id)
		inputs = append(inputs, BadInput{Name: c.name, ID: id, Args: args, Want: c.want})
	}
	return inputs, nil
}

// CheckRejected runs in with the command cmd, which prints MustNotRun, and
// fails t unless ctr fails with an error that names in.Want, the command
// never ran, and neither the host nor containerd keeps anything of the
// container.
func CheckRejected(ctx context.Context, t testing.TB, c *Ctr, in BadInput, cmd ...string) {
	t.Helper()
	args := append(append([]string{"run", "--rm", "--runtime", Runtime}, in.Args...), cmd...)
	start := time.Now()
	out, code := c.Run(ctx, "", args...)
	t.Logf("ctr run %s: exit %d after %s:\n%s", in.ID, code, time.Since(start).Round(time.Millisecond), out)

	if code == 0 || strings.Contains(out, MustNotRun) {
		t.Errorf("ctr run %s succeeded (exit %d), want task creation to fail", in.ID, code)
	}
	if !strings.Contains(out, in.Want) {
		t.Errorf("the error of ctr run %s does not name %q", in.ID, in.Want)
	}
	if left := c.WaitForCleanup(in.ID, 30*time.Second); len(left) > 0 {
		t.Errorf("%s left behind 30 s after ctr returned: %v", in.ID, left)
	}
	// Remove costs several ctr runs, so it runs only when the container
	// might still be there.
	exists, err := c.ContainerExists(ctx, in.ID)
	switch {
	case err != nil:
		t.Error(err)
		c.Remove(in.ID)
	case exists:
		t.Errorf("containerd keeps the container %s that ctr run --rm failed to start", in.ID)
		c.Remove(in.ID)
	}
}
