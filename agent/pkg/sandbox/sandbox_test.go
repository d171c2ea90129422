package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

func TestValidateID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"c1", true},
		{"3f2a9c0b7e41d6f58a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f", true},
		{"pod_1.app-2", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../etc", false},
		{"a/b", false},
		{"-flag", false},
		{"a b", false},
		{string(make([]byte, 129)), false},
	}
	for _, tt := range tests {
		err := ValidateID("container", tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tt.id, err, tt.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ValidateID(%q) = %v, want ErrInvalidArgument", tt.id, err)
		}
	}
}

func newTestSandbox(t *testing.T) (*Sandbox, string) {
	t.Helper()
	dir := t.TempDir()
	log := logrus.NewEntry(logrus.New())
	return New(Config{ResolvConf: filepath.Join(dir, "resolv.conf")}, log), dir
}

func TestCreateWritesDNSAndLocalStorage(t *testing.T) {
	s, dir := newTestSandbox(t)
	local := filepath.Join(dir, "local-volume")
	req := &grpc.CreateSandboxRequest{
		SandboxId: "sb1",
		Dns:       []string{"nameserver 10.0.0.1", "search example.com"},
		Storages:  []*grpc.Storage{{Driver: "local", MountPoint: local}},
	}
	if err := s.Create(context.Background(), req); err != nil {
		t.Fatalf("Create: %v", err)
	}

	got, err := os.ReadFile(filepath.Join(dir, "resolv.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "nameserver 10.0.0.1\nsearch example.com\n"; string(got) != want {
		t.Errorf("resolv.conf = %q, want %q", got, want)
	}
	if fi, err := os.Stat(local); err != nil || !fi.IsDir() {
		t.Errorf("local storage %s not created: %v", local, err)
	}

	if err := s.Create(context.Background(), req); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second Create = %v, want ErrAlreadyExists", err)
	}
	if err := s.Destroy(context.Background()); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if len(s.mounts) != 0 {
		t.Errorf("mount users after Destroy = %v, want none", s.mounts)
	}
}

func TestCreateRejectsMultiLineDNS(t *testing.T) {
	s, _ := newTestSandbox(t)
	err := s.Create(context.Background(), &grpc.CreateSandboxRequest{Dns: []string{"nameserver 1.1.1.1\nnameserver 6.6.6.6"}})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Create with a two-line DNS entry = %v, want ErrInvalidArgument", err)
	}
}

func TestContainerLookupErrors(t *testing.T) {
	s, _ := newTestSandbox(t)
	if _, err := s.Container("c1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Container(c1) = %v, want ErrNotFound", err)
	}
	if _, err := s.Container("../c1"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Container(../c1) = %v, want ErrInvalidArgument", err)
	}
	err := s.CreateContainer(context.Background(), &grpc.CreateContainerRequest{ContainerId: "c1"})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("CreateContainer without a spec = %v, want ErrInvalidArgument", err)
	}
}

func TestSharedMountPointCounted(t *testing.T) {
	s, dir := newTestSandbox(t)
	st := &grpc.Storage{Driver: "local", MountPoint: filepath.Join(dir, "shared")}

	first, err1 := s.mountStorages(context.Background(), []*grpc.Storage{st})
	second, err2 := s.mountStorages(context.Background(), []*grpc.Storage{st})
	if err1 != nil || err2 != nil {
		t.Fatalf("mountStorages: %v, %v", err1, err2)
	}
	if got := s.mounts[st.MountPoint]; got != 2 {
		t.Errorf("users of %s = %d, want 2", st.MountPoint, got)
	}

	if err := s.releaseMounts(first); err != nil {
		t.Errorf("first releaseMounts: %v", err)
	}
	users := s.mounts[st.MountPoint]
	if err := s.releaseMounts(second); err != nil {
		t.Errorf("second releaseMounts: %v", err)
	}
	_, left := s.mounts[st.MountPoint]
	if users != 1 {
		t.Errorf("users after one release = %d, want 1", users)
	}
	if left {
		t.Errorf("mount point still counted after the last release")
	}
}
