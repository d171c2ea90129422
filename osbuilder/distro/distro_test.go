package distro

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name, distro, suite   string
		wantSuite, wantMirror string
		wantErr               bool
	}{
		{name: "ubuntu default suite", distro: "ubuntu", wantSuite: "noble", wantMirror: "http://ports.ubuntu.com/ubuntu-ports"},
		{name: "debian default suite", distro: "debian", wantSuite: "trixie", wantMirror: "http://deb.debian.org/debian"},
		{name: "debian sid", distro: "debian", suite: "sid", wantSuite: "sid", wantMirror: "http://deb.debian.org/debian"},
		{name: "bookworm has no riscv64", distro: "debian", suite: "bookworm", wantErr: true},
		{name: "unknown distribution", distro: "fedora", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, suite, err := Lookup(tt.distro, tt.suite)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Lookup() error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrUnknown) {
					t.Errorf("error %v does not wrap ErrUnknown", err)
				}
				return
			}
			if suite != tt.wantSuite || d.DefaultMirror != tt.wantMirror {
				t.Errorf("Lookup() = suite %q mirror %q, want %q %q", suite, d.DefaultMirror, tt.wantSuite, tt.wantMirror)
			}
		})
	}
}

func TestDefaultIsUbuntu(t *testing.T) {
	if _, _, err := Lookup(Default, ""); err != nil || Default != "ubuntu" {
		t.Errorf("Default = %q (%v), want ubuntu", Default, err)
	}
}

func TestPackages(t *testing.T) {
	tests := []struct {
		kind        Kind
		want        []string
		wantVariant string
	}{
		{kind: Systemd, want: []string{"systemd", "systemd-sysv", "crun", "kmod"}, wantVariant: "essential"},
		{kind: AgentInit, want: []string{"crun"}, wantVariant: "extract"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			if got := Packages(tt.kind); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Packages() = %q, want %q", got, tt.want)
			}
			if got := Variant(tt.kind); got != tt.wantVariant {
				t.Errorf("Variant() = %q, want %q", got, tt.wantVariant)
			}
		})
	}
}

func TestCheckMirror(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/debian/dists/trixie/InRelease" {
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()

	// A port that refuses connections: listen, note the address, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/debian"
	l.Close()

	tests := []struct {
		name, mirror, suite string
		wantErr             string
	}{
		{name: "reachable", mirror: srv.URL + "/debian", suite: "trixie"},
		{name: "trailing slash", mirror: srv.URL + "/debian/", suite: "trixie"},
		{name: "missing suite", mirror: srv.URL + "/debian", suite: "forky", wantErr: "has no suite forky"},
		{name: "unreachable", mirror: closed, suite: "trixie", wantErr: "is unreachable"},
		{name: "local mirror left to apt", mirror: "file:///srv/mirror/debian", suite: "trixie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckMirror(context.Background(), srv.Client(), tt.mirror, tt.suite)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("CheckMirror() error = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--mirror") {
				t.Errorf("CheckMirror() error = %v, want one containing %q and naming --mirror", err, tt.wantErr)
			}
		})
	}
}

func TestKeyringPath(t *testing.T) {
	cache := t.TempDir()
	ubuntu, _, _ := Lookup("ubuntu", "")
	ubuntu.Keyring = filepath.Join(t.TempDir(), "absent", "ubuntu-archive-keyring.gpg")
	want := filepath.Join(cache, "keyrings", "ubuntu-keyring", ubuntu.Keyring)
	if got := KeyringPath(ubuntu, cache); got != want {
		t.Errorf("KeyringPath(host lacks it) = %q, want %q", got, want)
	}

	host := filepath.Join(t.TempDir(), "ubuntu-archive-keyring.gpg")
	if err := os.WriteFile(host, []byte("key"), 0o644); err != nil {
		t.Fatal(err)
	}
	ubuntu.Keyring = host
	if got := KeyringPath(ubuntu, cache); got != host {
		t.Errorf("KeyringPath(host has it) = %q, want %q", got, host)
	}
	got, err := EnsureKeyring(context.Background(), ubuntu, KeyringSource, "amd64", cache)
	if err != nil || got != host {
		t.Errorf("EnsureKeyring(host has it) = %q, %v, want %q without fetching", got, err, host)
	}
}
