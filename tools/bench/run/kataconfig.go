package run

import (
	"fmt"
	"os"
	"strconv"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/containerdshim/shimtest"
)

// writeKataConfig writes the Kata configuration of the session to path: the
// template with the built kernel and initrd (an initrd in place of the
// image), the session's accelerator, agent channel and shared filesystem,
// and its dial timeout. The QEMU path is the template's.
func writeKataConfig(o Options, path string) error {
	data, err := os.ReadFile(o.ConfigTemplate)
	if err != nil {
		return fmt.Errorf("reading the configuration template: %w", err)
	}

	cfg := string(data)
	edits := []struct{ key, line string }{
		{"kernel", fmt.Sprintf("kernel = %q", o.Kernel)},
		{"image", fmt.Sprintf("initrd = %q", o.Initrd)},
		{"accelerator", fmt.Sprintf("accelerator = %q", o.Accelerator)},
		{"shared_fs", fmt.Sprintf("shared_fs = %q", o.SharedFS)},
		{"channel", fmt.Sprintf("channel = %q", o.AgentChannel)},
		{"dial_timeout", "dial_timeout = " + strconv.Itoa(int(o.DialTimeout.Seconds()))},
	}
	for _, e := range edits {
		if cfg, err = replaceKey(cfg, e.key, e.line); err != nil {
			return fmt.Errorf("configuration template %s: %w", o.ConfigTemplate, err)
		}
	}

	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("writing the Kata configuration: %w", err)
	}
	return nil
}

// replaceKey sets key with shimtest.SetKey, the same line edit the shim's
// integration and e2e tests use, and says which template to derive from.
func replaceKey(cfg, key, line string) (string, error) {
	out, err := shimtest.SetKey(cfg, key, line)
	if err != nil {
		return "", fmt.Errorf("%w; use a template derived from configs/configuration-qemu.toml", err)
	}
	return out, nil
}
