package container

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

func TestPrepareBundleRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		root *specs.Root
		want error
	}{
		{"no root", nil, errdefs.ErrInvalidArgument},
		{"relative root", &specs.Root{Path: "rootfs"}, errdefs.ErrInvalidArgument},
		{"missing rootfs", &specs.Root{Path: filepath.Join(dir, "missing")}, errdefs.ErrNotFound},
		{"rootfs is a file", &specs.Root{Path: file}, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bundle := filepath.Join(dir, "bundle-"+tt.name)
			err := prepareBundle(bundle, &specs.Spec{Root: tt.root})
			if !errors.Is(err, tt.want) {
				t.Errorf("prepareBundle = %v, want %v", err, tt.want)
			}
			if _, err := os.Stat(bundle); !os.IsNotExist(err) {
				t.Errorf("bundle %s left behind after a failed prepare", bundle)
			}
		})
	}
}

// TestRemoveBundleKeepsFilesUnderRootfs checks that a rootfs that is not a
// mount point but has files (a mount that could not be detached) is never
// emptied.
func TestRemoveBundleKeepsFilesUnderRootfs(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "bundle")
	shared := filepath.Join(bundle, "rootfs", "bin", "busybox")
	if err := os.MkdirAll(filepath.Dir(shared), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shared, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := removeBundle(bundle); err == nil {
		t.Errorf("removeBundle with files under rootfs succeeded, want an error")
	}
	if _, err := os.Stat(shared); err != nil {
		t.Errorf("file under rootfs was removed: %v", err)
	}
}

func TestAdjustSpec(t *testing.T) {
	spec := &specs.Spec{
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace},
			{Type: specs.NetworkNamespace, Path: "/var/run/netns/cni-1"},
			{Type: specs.IPCNamespace, Path: "/proc/424242424/ns/ipc"},
			{Type: specs.UTSNamespace, Path: "/proc/self/ns/uts"},
		}},
	}
	adjustSpec(spec, "c1")

	want := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace, Path: "/proc/self/ns/uts"},
	}
	if len(spec.Linux.Namespaces) != len(want) {
		t.Fatalf("namespaces = %+v, want %+v", spec.Linux.Namespaces, want)
	}
	for i := range want {
		if spec.Linux.Namespaces[i] != want[i] {
			t.Errorf("namespace %d = %+v, want %+v", i, spec.Linux.Namespaces[i], want[i])
		}
	}
}

func TestStateString(t *testing.T) {
	for state, want := range map[State]string{Created: "created", Running: "running", Stopped: "stopped", State(0): "unknown"} {
		if got := state.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(state), got, want)
		}
	}
}

func TestAdjustSpecCgroupsPath(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"", ""},
		{"/kubepods/besteffort/pod1/c1", "/kubepods/besteffort/pod1/c1"},
		{"kubepods-besteffort-pod1.slice:cri-containerd:c1", "/kubepods-besteffort-pod1/c1"},
		{"relative/path", "relative/path"},
	}
	for _, tt := range tests {
		spec := &specs.Spec{Linux: &specs.Linux{CgroupsPath: tt.path}}
		adjustSpec(spec, "c1")
		if spec.Linux.CgroupsPath != tt.want {
			t.Errorf("cgroups path %q became %q, want %q", tt.path, spec.Linux.CgroupsPath, tt.want)
		}
	}
}
