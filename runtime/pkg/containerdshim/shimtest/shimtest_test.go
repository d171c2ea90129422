package shimtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestSetKey(t *testing.T) {
	cfg := "[hypervisor.qemu]\n# image = \"/a.img\"\nkernel_params = \"\"\nimage = \"/b.img\"\n"

	got, err := SetKey(cfg, "image", `initrd = "/c.img"`)
	if err != nil {
		t.Fatal(err)
	}
	want := "[hypervisor.qemu]\ninitrd = \"/c.img\"\nkernel_params = \"\"\n\n"
	if got != want {
		t.Errorf("SetKey(image) = %q, want %q", got, want)
	}

	if _, err := SetKey(cfg, "firmware", `firmware = "/fw.bin"`); err == nil {
		t.Error("SetKey of a key the text lacks succeeded, want an error")
	}
}

// writeValidConfig writes a configuration that config.LoadFile accepts on
// any Linux machine, with qemu as the hypervisor binary.
func writeValidConfig(t *testing.T, dir, qemu string) string {
	t.Helper()
	kernel := filepath.Join(dir, "vmlinux")
	initrd := filepath.Join(dir, "initrd.img")
	for _, f := range []string{kernel, initrd} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := "[hypervisor.qemu]\npath = \"" + qemu + "\"\nkernel = \"" + kernel + "\"\ninitrd = \"" + initrd +
		"\"\nshared_fs = \"virtio-9p\"\nenable_annotations = [\"kernel_params\"]\nvalid_hypervisor_paths = [\"" + qemu + "\"]\n\n[agent.kata]\n\n[runtime]\n"
	path := filepath.Join(dir, "configuration.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBadInputsWritesEachVariant(t *testing.T) {
	dir := t.TempDir()
	config := writeValidConfig(t, dir, "/bin/echo")

	inputs, err := BadInputs(dir, config, "/rootfs", "p-")
	if err != nil {
		t.Fatalf("BadInputs: %v", err)
	}
	ids := map[string]bool{}
	for _, in := range inputs {
		if ids[in.ID] {
			t.Errorf("container id %s is used twice", in.ID)
		}
		ids[in.ID] = true
		if !strings.HasPrefix(in.ID, "p-") || in.Args[len(in.Args)-1] != in.ID {
			t.Errorf("%s: args %q do not end with an id that starts with the prefix", in.Name, in.Args)
		}
		if in.Want == "" {
			t.Errorf("%s: no expected error text", in.Name)
		}
		for i, arg := range in.Args {
			if arg != "--runtime-config-path" {
				continue
			}
			_, err := os.Stat(in.Args[i+1])
			if missing := errors.Is(err, os.ErrNotExist); missing != (in.Name == "missing configuration") {
				t.Errorf("%s: configuration %s: Stat error %v", in.Name, in.Args[i+1], err)
			}
		}
	}
	if len(inputs) != 8 {
		t.Errorf("BadInputs returned %d runs, want 8", len(inputs))
	}
}

func TestFailingQEMUPassesProbes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the stand-in QEMU is a /bin/sh script")
	}
	dir := t.TempDir()
	config := writeValidConfig(t, dir, "/bin/echo")
	if _, err := BadInputs(dir, config, "/rootfs", "p-"); err != nil {
		t.Fatalf("BadInputs: %v", err)
	}
	standIn := filepath.Join(dir, "qemu-system-riscv64")

	// The stand-in hands probes to the real binary, here echo.
	for _, probe := range [][]string{{"-version"}, {"-machine", "virt,help"}, {"-accel", "help"}} {
		out, err := exec.Command(standIn, probe...).Output()
		if err != nil {
			t.Errorf("%s %q: %v, want the real binary's result", standIn, probe, err)
		}
		if got := strings.TrimSpace(string(out)); got != strings.Join(probe, " ") {
			t.Errorf("%s %q printed %q, want the arguments echoed", standIn, probe, got)
		}
	}

	var stderr bytes.Buffer
	launch := exec.Command(standIn, "-name", "sandbox-x", "-machine", "virt,accel=kvm")
	launch.Stderr = &stderr
	if err := launch.Run(); err == nil {
		t.Error("the stand-in succeeded at a VM launch, want exit status 1")
	}
	if !strings.Contains(stderr.String(), failingQEMUMessage) {
		t.Errorf("the stand-in's stderr %q lacks %q", stderr.String(), failingQEMUMessage)
	}
}
