package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// TestLoadCheckInputShippedConfig loads configs/configuration-qemu.toml, whose
// guest assets are not installed on a build host, and expects them as
// findings rather than a load error.
func TestLoadCheckInputShippedConfig(t *testing.T) {
	path, err := filepath.Abs("../../../configs/configuration-qemu.toml")
	if err != nil {
		t.Fatal(err)
	}
	in := loadCheckInput(path, quietLog())
	if in.ConfigErr != nil {
		t.Fatalf("ConfigErr = %v, want a lenient load of %s", in.ConfigErr, path)
	}
	if in.ConfigPath != path {
		t.Errorf("ConfigPath = %q, want %q", in.ConfigPath, path)
	}
	if in.HypervisorType != vc.QemuHypervisor || in.Hypervisor == nil || in.Agent == nil {
		t.Fatalf("input = %+v, want the QEMU hypervisor and agent sections", in)
	}
	if in.Hypervisor.Path != "/usr/bin/qemu-system-riscv64" {
		t.Errorf("Hypervisor.Path = %q, want /usr/bin/qemu-system-riscv64", in.Hypervisor.Path)
	}
	if _, err := os.Stat(in.Hypervisor.KernelPath); err == nil {
		t.Skipf("%s exists on this host, so it is no missing-file finding", in.Hypervisor.KernelPath)
	}
	found := false
	for _, p := range in.MissingFiles {
		found = found || p.Key == "hypervisor.qemu.kernel"
	}
	if !found {
		t.Errorf("MissingFiles = %+v, want hypervisor.qemu.kernel", in.MissingFiles)
	}
}

func TestLoadCheckInputErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "configuration.toml")
	if in := loadCheckInput(missing, quietLog()); in.ConfigErr == nil || !strings.Contains(in.ConfigErr.Error(), missing) {
		t.Errorf("missing file: ConfigErr = %v, want an error naming %s", in.ConfigErr, missing)
	}

	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[hypervisor.qemu]\npath = \"/usr/bin/qemu-system-riscv64\"\nkernal = \"/vmlinux\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := loadCheckInput(bad, quietLog())
	if !errors.Is(in.ConfigErr, config.ErrUnknownKey) {
		t.Fatalf("misspelled key: ConfigErr = %v, want ErrUnknownKey", in.ConfigErr)
	}
	if msg := in.ConfigErr.Error(); !strings.Contains(msg, bad+":3") || !strings.Contains(msg, "kernal") {
		t.Errorf("ConfigErr %q does not name %s:3 and the key", msg, bad)
	}
	if in.Hypervisor != nil {
		t.Error("Hypervisor is set although the configuration did not load")
	}
}
