package distro

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/apt"
)

// KeyringSource is the archive osbuilder fetches a missing keyring package
// from: Debian trixie ships ubuntu-keyring, bookworm does not.
var KeyringSource = apt.Source{
	Mirror:     "http://deb.debian.org/debian",
	Suite:      "trixie",
	Components: []string{"main"},
	Keyring:    "/usr/share/keyrings/debian-archive-keyring.gpg",
}

// KeyringPath returns the keyring file for d: the host's when it has one,
// else the copy that EnsureKeyring stores under cacheDir.
func KeyringPath(d Distro, cacheDir string) string {
	if _, err := os.Stat(d.Keyring); err == nil || d.KeyringPackage == "" {
		return d.Keyring
	}
	return filepath.Join(cacheDir, "keyrings", d.KeyringPackage, d.Keyring)
}

// EnsureKeyring returns the path of d's archive keyring. When the host lacks
// it, EnsureKeyring downloads d.KeyringPackage from src with a private apt
// state under cacheDir and unpacks it there, as a user would with
// 'apt-get download ubuntu-keyring' against trixie sources.
func EnsureKeyring(ctx context.Context, d Distro, src apt.Source, hostArch, cacheDir string) (string, error) {
	path := KeyringPath(d, cacheDir)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if d.KeyringPackage == "" {
		return "", fmt.Errorf("archive keyring %s for %s is missing: install the host's keyring package", d.Keyring, d.Name)
	}

	a := &apt.Apt{Dir: filepath.Join(cacheDir, "apt", "keyring-"+src.Suite), Arch: hostArch, Source: src}
	if err := a.Init(); err != nil {
		return "", err
	}
	if err := a.Update(ctx); err != nil {
		return "", fmt.Errorf("fetching %s for the %s keyring: %w", d.KeyringPackage, d.Name, err)
	}
	debs, err := a.Download(ctx, filepath.Join(cacheDir, "debs"), d.KeyringPackage)
	if err != nil {
		return "", err
	}
	root := filepath.Join(cacheDir, "keyrings", d.KeyringPackage)
	if err := apt.ExtractDeb(ctx, debs[0], root); err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s did not contain %s: %w", debs[0], d.Keyring, err)
	}
	return path, nil
}
