package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckBinfmt(t *testing.T) {
	interp := filepath.Join(t.TempDir(), "qemu-riscv64-static")
	if err := os.WriteFile(interp, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	entry := func(state, interpreter string) string {
		return state + "\ninterpreter " + interpreter + "\nflags: PF\noffset 0\nmagic 7f454c46\n"
	}
	tests := []struct {
		name     string
		register bool
		entry    string // content of qemu-riscv64; empty means absent
		wantErr  string
	}{
		{"registered", true, entry("enabled", interp), ""},
		{"binfmt_misc not mounted", false, "", "mount -t binfmt_misc"},
		{"no riscv64 entry", true, "", "apt-get install qemu-user-static binfmt-support"},
		{"entry disabled", true, entry("disabled", interp), "update-binfmts --enable qemu-riscv64"},
		{"interpreter removed", true, entry("enabled", "/nonexistent/qemu-riscv64-static"), "is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.register {
				if err := os.WriteFile(filepath.Join(dir, "register"), nil, 0o200); err != nil {
					t.Fatal(err)
				}
			}
			if tt.entry != "" {
				if err := os.WriteFile(filepath.Join(dir, "qemu-riscv64"), []byte(tt.entry), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := checkBinfmt(dir)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkBinfmt: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("checkBinfmt error = %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, errPreflight) {
				t.Errorf("checkBinfmt error %v does not wrap errPreflight", err)
			}
		})
	}
}

func TestCheckFreeSpace(t *testing.T) {
	dir := t.TempDir()
	if err := checkFreeSpace(dir, 1); err != nil {
		t.Errorf("checkFreeSpace(1 byte): %v", err)
	}
	err := checkFreeSpace(dir, 1<<62)
	if err == nil || !strings.Contains(err.Error(), "--cache DIR") {
		t.Errorf("checkFreeSpace(4 EiB) error = %v, want one that names --cache DIR", err)
	}
}

func TestCheckMirror(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debian/dists/trixie/Release" {
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()

	// A loopback port that was just free, so nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/debian"
	l.Close()

	tests := []struct {
		name    string
		mirror  string
		suite   string
		wantErr string
	}{
		{"reachable", srv.URL + "/debian", "trixie", ""},
		{"trailing slash", srv.URL + "/debian/", "trixie", ""},
		{"suite missing", srv.URL + "/debian", "sid", "404"},
		{"unreachable", closed, "trixie", "unreachable"},
		{"invalid URL", "http://[::1", "trixie", "invalid mirror URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkMirror(context.Background(), tt.mirror, tt.suite)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("checkMirror: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--mirror URL") {
				t.Errorf("checkMirror error = %v, want one containing %q and --mirror URL", err, tt.wantErr)
			}
		})
	}
}

func TestParseQEMUVersion(t *testing.T) {
	tests := []struct {
		out     string
		want    qemuVersion
		wantErr bool
	}{
		{"QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright", qemuVersion{7, 2}, false},
		{"QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-1~bpo12+1)", qemuVersion{10, 0}, false},
		{"bash: qemu: command not found", qemuVersion{}, true},
	}
	for _, tt := range tests {
		got, err := parseQEMUVersion(tt.out)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseQEMUVersion(%q) = %v, %v; want %v, error %v", tt.out, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheckAIASupport(t *testing.T) {
	tests := []struct {
		v      qemuVersion
		wantOK bool
	}{
		{qemuVersion{7, 2}, false},
		{qemuVersion{9, 2}, false},
		{qemuVersion{10, 0}, true},
		{qemuVersion{11, 1}, true},
	}
	for _, tt := range tests {
		err := checkAIASupport(tt.v, "/usr/bin/qemu-system-riscv64")
		if (err == nil) != tt.wantOK {
			t.Errorf("checkAIASupport(%s) = %v, want ok=%v", tt.v, err, tt.wantOK)
		}
		if err != nil && (!strings.Contains(err.Error(), tt.v.String()) || !strings.Contains(err.Error(), "bookworm-backports")) {
			t.Errorf("checkAIASupport(%s) error %q should name the version and bookworm-backports", tt.v, err)
		}
	}
}
