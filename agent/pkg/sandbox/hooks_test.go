package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGuestHooks(t *testing.T) {
	dir := t.TempDir()
	files := []struct {
		path string
		mode os.FileMode
	}{
		{"prestart/20-second", 0o755},
		{"prestart/10-first", 0o755},
		{"prestart/README", 0o644},
		{"poststop/cleanup", 0o700},
	}
	for _, f := range files {
		full := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("#!/bin/sh\n"), f.mode); err != nil {
			t.Fatal(err)
		}
	}

	hooks, err := guestHooks(dir)
	if err != nil {
		t.Fatalf("guestHooks: %v", err)
	}
	pre := hooks.Prestart //nolint:staticcheck // the test reads the deprecated field guestHooks fills.
	if len(pre) != 2 || filepath.Base(pre[0].Path) != "10-first" || filepath.Base(pre[1].Path) != "20-second" {
		t.Errorf("prestart hooks = %+v, want 10-first then 20-second, without the non-executable README", pre)
	}
	if len(hooks.Poststop) != 1 || hooks.Poststop[0].Args[1] != "poststop" {
		t.Errorf("poststop hooks = %+v, want cleanup with stage argument", hooks.Poststop)
	}
	if len(hooks.Poststart) != 0 {
		t.Errorf("poststart hooks = %+v, want none", hooks.Poststart)
	}

	none, err := guestHooks(filepath.Join(dir, "missing"))
	if err != nil || none != nil {
		t.Errorf("guestHooks(missing) = %+v, %v, want nil, nil", none, err)
	}
}
