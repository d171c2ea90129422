package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// section is one table of the file ([hypervisor.qemu], [agent.kata],
// [runtime]) with helpers that record problems under its full key names.
type section struct {
	d    *decoder
	path []string
}

func (s section) key(k string) string { return sectionKey(append(slices.Clone(s.path), k)...) }

// defined reports whether the file sets key k in this section.
func (s section) defined(k string) bool {
	return s.d.md.IsDefined(append(slices.Clone(s.path), k)...)
}

func (s section) invalid(k string, value any, reason, fix string) {
	s.d.ps.add(ErrInvalidValue, s.key(k), value, reason, fix)
}

func (s section) unsupported(k string, value any, reason, fix string) {
	s.d.ps.add(ErrUnsupported, s.key(k), value, reason, fix)
}

// ignore logs that key k, when set to a non-zero value, has no effect.
func (s section) ignore(k string, set bool, reason string) {
	if set {
		s.d.warnIgnored(s.key(k), reason)
	}
}

// oneOf checks that value is one of allowed, returning def when the key is
// not set.
func (s section) oneOf(k, value, def string, allowed ...string) string {
	if !s.defined(k) || value == "" {
		return def
	}
	if !slices.Contains(allowed, value) {
		s.invalid(k, value, "must be one of "+quoteList(allowed),
			fmt.Sprintf("set %s to one of those values, or remove it for the default %q", k, def))
		return def
	}
	return value
}

// inRange checks lo <= value <= hi, returning def when the key is unset or 0.
func (s section) inRange(k string, value, def, lo, hi int64, unit string) int64 {
	if !s.defined(k) || value == 0 {
		return def
	}
	if value < lo || value > hi {
		s.invalid(k, value, fmt.Sprintf("must be between %d and %d%s", lo, hi, unit),
			fmt.Sprintf("set %s within that range, or remove it for the default %d", k, def))
		return def
	}
	return value
}

type fileKind int

const (
	regularFile fileKind = iota
	executableFile
)

// checkFile checks that p, the value of key k, is an absolute path to an
// existing file of the given kind under the loader's root. install is the
// fix reported when the file is missing.
func (s section) checkFile(k, p string, kind fileKind, install string) {
	if !filepath.IsAbs(p) {
		s.invalid(k, p, "must be an absolute path", "write the full path, starting with /")
		return
	}

	st, err := os.Stat(s.d.loader.hostPath(p))
	reason := ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		reason = "file not found"
	case err != nil:
		reason = err.Error()
	case st.IsDir():
		reason = "is a directory, not a file"
	case !st.Mode().IsRegular():
		reason = "is not a regular file"
	case kind == executableFile && st.Mode().Perm()&0o111 == 0:
		reason = "is not executable"
		install = "make it executable (chmod +x) or " + install
	}
	if reason != "" {
		s.d.ps.add(ErrMissingFile, s.key(k), p, reason, install)
	}
}

// checkAbs checks that an optional path is absolute. The path need not exist
// on the host, because it may be a guest path or a device.
func (s section) checkAbs(k, p string) {
	if p != "" && !filepath.IsAbs(p) {
		s.invalid(k, p, "must be an absolute path", "write the full path, starting with /")
	}
}

// checkRegexps checks that each entry of list compiles as a Go regular
// expression (RE2 syntax).
func (s section) checkRegexps(k string, list []string) {
	for _, expr := range list {
		if _, err := regexp.Compile(expr); err != nil {
			s.invalid(k, expr, "entry is not a valid regular expression: "+err.Error(),
				"correct the expression (RE2 syntax, e.g. \"kernel_params\" or \"virtio_fs_.*\")")
		}
	}
}

// checkGlobs checks that each entry of list is a valid glob(7) pattern. An
// empty entry, which upstream's defaults use to allow an empty value, passes.
func (s section) checkGlobs(k string, list []string) {
	for _, pattern := range list {
		if pattern == "" {
			continue
		}
		if _, err := filepath.Match(pattern, ""); err != nil {
			s.invalid(k, pattern, "entry is not a valid glob pattern: "+err.Error(),
				"correct the pattern, e.g. \"/usr/bin/qemu-system-*\"")
			continue
		}
		if !filepath.IsAbs(pattern) {
			s.invalid(k, pattern, "entry must be an absolute path pattern", "write the full path, starting with /")
		}
	}
}

func quoteList(list []string) string {
	quoted := make([]string, len(list))
	for i, v := range list {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(quoted, ", ")
}
