package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const shippedQEMUConfig = "../../../configs/configuration-qemu.toml"

func TestEnvCommand(t *testing.T) {
	abs, err := filepath.Abs(shippedQEMUConfig)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		args   []string
		decode func([]byte, *map[string]any) error
	}{
		{"toml", nil, func(b []byte, m *map[string]any) error { _, err := toml.Decode(string(b), m); return err }},
		{"json", []string{"--json"}, func(b []byte, m *map[string]any) error { return json.Unmarshal(b, m) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := envMain(globalOptions{configPath: shippedQEMUConfig}, tt.args, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr.String())
			}

			var out map[string]any
			if err := tt.decode(stdout.Bytes(), &out); err != nil {
				t.Fatalf("output does not decode: %v\n%s", err, stdout.String())
			}
			runtime, _ := out["Runtime"].(map[string]any)
			cfg, _ := runtime["Config"].(map[string]any)
			if cfg["Path"] != abs {
				t.Errorf("Runtime.Config.Path = %v, want %s", cfg["Path"], abs)
			}
			kernel, _ := out["Kernel"].(map[string]any)
			if kernel["Path"] != "/usr/share/kata-containers/vmlinux.container" {
				t.Errorf("Kernel.Path = %v", kernel["Path"])
			}
		})
	}
}

func TestEnvCommandRejectsInvalidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "configuration.toml")
	if err := writeTestFile(path, "[hypervisor.qemu]\nimage = \"/i\"\ndefault_memroy = 1\n"); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := envMain(globalOptions{configPath: path}, nil, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if want := path + ":3: hypervisor.qemu.default_memroy = 1: unknown key"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}

func writeTestFile(path, text string) error {
	return os.WriteFile(path, []byte(text), 0o644)
}
