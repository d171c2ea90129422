package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFSReplacesFiles(t *testing.T) {
	src := t.TempDir()
	dst := filepath.Join(t.TempDir(), "results")
	if err := os.MkdirAll(filepath.Join(src, "plots"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"results.txt": "p50 1.04\n", "plots/cold-start.svg": "<svg/>"}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A file left by an earlier run is replaced.
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "results.txt"), []byte("an older, longer result\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	n, err := writeFS(os.DirFS(src), ".", dst)
	if err != nil {
		t.Fatalf("writeFS: %v", err)
	}
	if n != len(files) {
		t.Errorf("writeFS wrote %d files, want %d", n, len(files))
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			t.Errorf("reading %s: %v", name, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestWriteFSRejectsSymlinks(t *testing.T) {
	src := t.TempDir()
	if err := os.Symlink("/etc/shadow", filepath.Join(src, "escape")); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	_, err := writeFS(os.DirFS(src), ".", dst)
	if err == nil {
		t.Fatal("writeFS copied a symbolic link, want an error")
	}
	if !strings.Contains(err.Error(), "escape") {
		t.Errorf("writeFS error %q does not name the link", err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "escape")); !os.IsNotExist(err) {
		t.Errorf("the link reached the destination: %v", err)
	}
}
