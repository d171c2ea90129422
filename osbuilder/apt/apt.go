// Package apt runs the host's apt-get and apt-cache against a private state
// directory, so osbuilder can resolve and download packages of another
// architecture or distribution (a riscv64 kernel, the Ubuntu archive
// keyring) without touching the host's own apt configuration.
package apt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Source is one archive line of the private sources.list.
type Source struct {
	Mirror     string
	Suite      string
	Components []string
	// Keyring is the OpenPGP keyring that signs the archive (signed-by).
	Keyring string
}

// Line returns the one-line sources.list entry for arch.
func (s Source) Line(arch string) string {
	return fmt.Sprintf("deb [arch=%s signed-by=%s] %s %s %s",
		arch, s.Keyring, s.Mirror, s.Suite, strings.Join(s.Components, " "))
}

// Apt is a private apt state: lists, cache and sources under Dir.
type Apt struct {
	Dir    string
	Arch   string
	Source Source
}

// Options returns the -o options that point apt at the private state and
// architecture instead of the host's.
func (a *Apt) Options() []string {
	return []string{
		"-o", "Dir::State=" + filepath.Join(a.Dir, "state"),
		"-o", "Dir::State::status=" + filepath.Join(a.Dir, "state", "status"),
		"-o", "Dir::Cache=" + filepath.Join(a.Dir, "cache"),
		"-o", "Dir::Etc::SourceList=" + filepath.Join(a.Dir, "sources.list"),
		"-o", "Dir::Etc::SourceParts=/dev/null",
		"-o", "Dir::Etc::Preferences=/dev/null",
		"-o", "Dir::Etc::PreferencesParts=/dev/null",
		"-o", "APT::Architecture=" + a.Arch,
		"-o", "APT::Architectures=" + a.Arch,
		// The private directories belong to root; downloading as _apt would fail.
		"-o", "APT::Sandbox::User=root",
		"-o", "Acquire::Retries=2",
	}
}

// Init creates the private state and writes the sources.list.
func (a *Apt) Init() error {
	for _, d := range []string{"state/lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.Dir, d), 0o755); err != nil {
			return fmt.Errorf("creating the apt state directory %s: %w", a.Dir, err)
		}
	}
	status := filepath.Join(a.Dir, "state", "status")
	if _, err := os.Stat(status); os.IsNotExist(err) {
		if err := os.WriteFile(status, nil, 0o644); err != nil {
			return fmt.Errorf("creating %s: %w", status, err)
		}
	}
	line := a.Source.Line(a.Arch) + "\n"
	if err := os.WriteFile(filepath.Join(a.Dir, "sources.list"), []byte(line), 0o644); err != nil {
		return fmt.Errorf("writing the private sources.list in %s: %w", a.Dir, err)
	}
	return nil
}

// Update downloads the package lists.
func (a *Apt) Update(ctx context.Context) error {
	_, err := a.run(ctx, "apt-get", append(a.Options(), "-q", "update")...)
	if err != nil {
		return fmt.Errorf("%w: check that %s is reachable or pass another --mirror", err, a.Source.Mirror)
	}
	return nil
}

// Depends returns the package names in the Depends and Pre-Depends fields
// of pkg's candidate version, without version constraints. Of an
// alternative ("a | b") only the first is returned.
func (a *Apt) Depends(ctx context.Context, pkg string) ([]string, error) {
	out, err := a.run(ctx, "apt-cache", append(a.Options(), "show", "--no-all-versions", pkg)...)
	if err != nil {
		return nil, err
	}
	return ParseDepends(out), nil
}

// Download fetches the named packages' .deb files into dir and returns their paths.
func (a *Apt) Download(ctx context.Context, dir string, pkgs ...string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, "apt-get", append(append(a.Options(), "-q", "download"), pkgs...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("apt-get download %s: %w: %s", strings.Join(pkgs, " "), err, strings.TrimSpace(stderr.String()))
	}

	var paths []string
	for _, p := range pkgs {
		matches, _ := filepath.Glob(filepath.Join(dir, p+"_*.deb"))
		if len(matches) == 0 {
			return nil, fmt.Errorf("apt-get download %s left no .deb in %s", p, dir)
		}
		paths = append(paths, matches[len(matches)-1])
	}
	return paths, nil
}

// ParseDepends extracts package names from the Depends and Pre-Depends
// fields of an apt-cache show record.
func ParseDepends(record []byte) []string {
	var names []string
	for _, line := range strings.Split(string(record), "\n") {
		field, value, ok := strings.Cut(line, ":")
		if !ok || (field != "Depends" && field != "Pre-Depends") {
			continue
		}
		for _, dep := range strings.Split(value, ",") {
			first, _, _ := strings.Cut(dep, "|")
			name, _, _ := strings.Cut(strings.TrimSpace(first), " ")
			name, _, _ = strings.Cut(name, ":")
			if name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

func (a *Apt) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, args[len(args)-1], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ExtractDeb unpacks a .deb's data into dir with dpkg-deb.
func ExtractDeb(ctx context.Context, deb, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", deb, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("dpkg-deb -x %s: %w: %s", deb, err, strings.TrimSpace(string(out)))
	}
	return nil
}
