// Package distro describes the distributions osbuilder builds riscv64 guests
// from: where their archive is, which suites have riscv64 packages, which
// keyring signs them and which packages make a guest.
package distro

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Arch is the Debian architecture name of every guest osbuilder builds.
const Arch = "riscv64"

// ErrUnknown is returned for a distribution or suite osbuilder has no entry for.
var ErrUnknown = errors.New("unknown distribution or suite")

// Distro is one distribution's archive and package facts.
type Distro struct {
	Name          string
	DefaultSuite  string
	Suites        []string
	DefaultMirror string
	Components    []string
	// Keyring is the host path of the archive keyring.
	Keyring string
	// KeyringPackage is the Debian package that ships Keyring, for hosts
	// that lack it. Empty when the host's own keyring package covers it.
	KeyringPackage string
	// KernelPackage is the metapackage that depends on the current kernel.
	KernelPackage string
}

var distros = map[string]Distro{
	// Ubuntu publishes riscv64 on the ports archive, not archive.ubuntu.com.
	"ubuntu": {
		Name:           "ubuntu",
		DefaultSuite:   "noble",
		Suites:         []string{"noble"},
		DefaultMirror:  "http://ports.ubuntu.com/ubuntu-ports",
		Components:     []string{"main", "universe"}, // crun is in universe
		Keyring:        "/usr/share/keyrings/ubuntu-archive-keyring.gpg",
		KeyringPackage: "ubuntu-keyring",
		// NOTE: the noble kernel path (vmlinuz format, linux-modules-*
		// package, .ko.zst modules) is untested: our machines cannot reach
		// ports.ubuntu.com.
		KernelPackage: "linux-image-generic",
	},
	// riscv64 became an official Debian architecture with trixie (13).
	"debian": {
		Name:          "debian",
		DefaultSuite:  "trixie",
		Suites:        []string{"trixie", "forky", "sid"},
		DefaultMirror: "http://deb.debian.org/debian",
		Components:    []string{"main"},
		Keyring:       "/usr/share/keyrings/debian-archive-keyring.gpg",
		KernelPackage: "linux-image-riscv64",
	},
}

// Default is the distribution used when none is named.
const Default = "ubuntu"

// Lookup returns the named distribution with suite checked, or the
// distribution's default suite when suite is empty.
func Lookup(name, suite string) (Distro, string, error) {
	d, ok := distros[name]
	if !ok {
		return Distro{}, "", fmt.Errorf("%w: distribution %q; use one of %s", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	if suite == "" {
		return d, d.DefaultSuite, nil
	}
	if !slices.Contains(d.Suites, suite) {
		return Distro{}, "", fmt.Errorf("%w: %s has no riscv64 suite %q that osbuilder knows; use one of %s",
			ErrUnknown, name, suite, strings.Join(d.Suites, ", "))
	}
	return d, suite, nil
}

// Names returns the known distribution names, sorted.
func Names() []string {
	names := make([]string, 0, len(distros))
	for n := range distros {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
