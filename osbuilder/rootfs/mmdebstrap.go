package rootfs

import (
	"fmt"
	"strings"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
)

// Plan is one mmdebstrap run.
type Plan struct {
	Distro distro.Distro
	Suite  string
	Mirror string
	Kind   distro.Kind
	// Keyring is the archive keyring file passed to apt.
	Keyring string
	// CacheDir keeps downloaded .deb files between builds; empty disables it.
	CacheDir string
	// Target is the directory mmdebstrap fills; it must exist and be empty.
	Target string
}

// SourcesLine is the apt source the guest is built from.
func (p Plan) SourcesLine() string {
	return fmt.Sprintf("deb [arch=%s] %s %s %s", distro.Arch, p.Mirror, p.Suite, strings.Join(p.Distro.Components, " "))
}

// Args returns mmdebstrap's arguments. The package cache works through
// mmdebstrap's sync-in and sync-out hooks. Cached .deb files are copied
// into the chroot's apt archive before the download step, so apt fetches
// only what is missing. The archive is copied back out before mmdebstrap
// cleans it. --skip=essential/unlink keeps the essential packages' .deb files
// there for the copy-out.
func (p Plan) Args() []string {
	args := []string{
		"--variant=" + distro.Variant(p.Kind),
		"--architectures=" + distro.Arch,
		"--components=" + strings.Join(p.Distro.Components, ","),
		"--include=" + strings.Join(distro.Packages(p.Kind), ","),
		"--keyring=" + p.Keyring,
		"--aptopt=Acquire::Retries \"3\"",
	}
	for _, pattern := range distro.ExcludedPaths {
		args = append(args, "--dpkgopt=path-exclude="+pattern)
	}
	if p.CacheDir != "" {
		args = append(args,
			"--skip=essential/unlink",
			`--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
			"--setup-hook=sync-in "+p.CacheDir+" /var/cache/apt/archives/",
			"--customize-hook=sync-out /var/cache/apt/archives "+p.CacheDir,
		)
	}
	// A one-line sources entry instead of a bare mirror URL makes the
	// components and architecture explicit in the guest's sources.list.
	return append(args, p.Suite, p.Target, p.SourcesLine())
}
