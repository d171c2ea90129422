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
)

// BadInput is a `ctr run` whose task creation the shim must reject.
type BadInput struct {
	Name string
	// ID is the container id.
	ID string
	// Args are the flags of `ctr run` after --runtime, ending with the rootfs
	// and ID; the caller appends the command.
	Args []string
	// Want is what the error must name: the value at fault.
	Want string
}

// MustNotRun is what the command of a BadInput prints if it runs.
const MustNotRun = "the rejected container ran"

// evilQEMU is a hypervisor path that no configuration allows.
const evilQEMU = "/usr/local/bin/evil-qemu"

// BadInputs writes variants of the valid configuration at configPath into
// dir and returns runs that each break one input: the configuration
// (missing, with an unknown key, naming a hypervisor binary that does not
// exist), the hypervisor (a binary that exits at once), the annotations (one
// that is not enabled, and a hypervisor path outside valid_hypervisor_paths)
// and the bundle (a root path that does not exist). rootfs is a valid root
// filesystem, and each container id starts with prefix.
func BadInputs(dir, configPath, rootfs, prefix string) ([]BadInput, error) {
	data, err := os.ReadFile(configPath)
	if err != nil {
		return nil, err
	}
	valid := string(data)

	const section = "[hypervisor.qemu]\n"
	if !strings.Contains(valid, section) {
		return nil, fmt.Errorf("%s has no %s section", configPath, strings.TrimSpace(section))
	}
	noQEMU, err1 := SetKey(valid, "path", `path = "/nonexistent/qemu-system-riscv64"`)
	failingQEMU, err2 := SetKey(valid, "path", `path = "/bin/false"`)
	pathAnnotation, err3 := SetKey(valid, "enable_annotations", `enable_annotations = ["path"]`)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("deriving bad configurations from %s: %w", configPath, err)
	}
	variants := map[string]string{
		"unknown-key.toml":     strings.Replace(valid, section, section+"kernal = \"/boot/vmlinuz\"\n", 1),
		"no-qemu.toml":         noQEMU,
		"failing-qemu.toml":    failingQEMU,
		"path-annotation.toml": pathAnnotation,
	}
	for name, text := range variants {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	config := func(name string) []string { return []string{"--runtime-config-path", filepath.Join(dir, name)} }

	missing := filepath.Join(dir, "missing.toml")
	noRootfs := filepath.Join(dir, "no-rootfs")
	cases := []struct {
		name, id, want string
		flags          []string
		rootfs         string
	}{
		{"missing configuration", "nocfg", missing, []string{"--runtime-config-path", missing}, rootfs},
		{"unknown configuration key", "badkey", "kernal", config("unknown-key.toml"), rootfs},
		{"hypervisor binary missing", "noqemu", "/nonexistent/qemu-system-riscv64", config("no-qemu.toml"), rootfs},
		{"hypervisor fails to start", "falseqemu", "/bin/false", config("failing-qemu.toml"), rootfs},
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
	defer c.Remove(in.ID)

	if code == 0 || strings.Contains(out, MustNotRun) {
		t.Errorf("ctr run %s succeeded (exit %d), want task creation to fail", in.ID, code)
	}
	if !strings.Contains(out, in.Want) {
		t.Errorf("the error of ctr run %s does not name %q", in.ID, in.Want)
	}
	if left := c.WaitForCleanup(in.ID, 30*time.Second); len(left) > 0 {
		t.Errorf("%s left behind 30 s after ctr returned: %v", in.ID, left)
	}
	exists, err := c.ContainerExists(ctx, in.ID)
	if err != nil {
		t.Error(err)
	}
	if exists {
		t.Errorf("containerd keeps the container %s that ctr run --rm failed to start", in.ID)
	}
}
