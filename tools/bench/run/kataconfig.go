package run

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
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

// replaceKey replaces the first line that sets key, commented out or not,
// with line, and removes later lines that set it, so that the TOML stays
// free of duplicate keys. Every key edited here occurs in one section only.
func replaceKey(cfg, key, line string) (string, error) {
	re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(key) + `\s*=.*$`)
	if !re.MatchString(cfg) {
		return "", fmt.Errorf("no line sets %s; use a template derived from configs/configuration-qemu.toml", key)
	}
	done := false
	return re.ReplaceAllStringFunc(cfg, func(string) string {
		if done {
			return ""
		}
		done = true
		return line
	}), nil
}
