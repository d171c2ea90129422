package output

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestBeginRefusesExistingWithoutForce(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "kata-containers.img")
	if err := os.WriteFile(dest, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Begin(dest, false, false)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Begin() error = %v, want ErrExists", err)
	}
}

func TestCommitReplacesDirectory(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(filepath.Join(dest, "old-file"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Begin(dest, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	if err := os.WriteFile(filepath.Join(s.Path, "new-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(); err != nil {
		t.Fatalf("Commit() error = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, "new-file")); err != nil {
		t.Errorf("new-file missing after Commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dest, "old-file")); !os.IsNotExist(err) {
		t.Errorf("old-file still present after Commit: %v", err)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("dest mode = %v (%v), want 0755", fi.Mode(), err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := Begin(filepath.Join(dir, "out.img"), false, false)
	if err != nil {
		t.Fatal(err)
	}
	s.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("directory after Abort has %d entries, want 0", len(entries))
	}
}

func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	if err := CheckSpace(filepath.Join(dir, "not", "yet"), 1); err != nil {
		t.Errorf("CheckSpace(1 byte) error = %v, want nil", err)
	}
	if err := CheckSpace(dir, 1<<62); err == nil {
		t.Error("CheckSpace(4 EiB) error = nil, want too little disk space")
	}
}
