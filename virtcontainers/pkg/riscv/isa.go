// Package riscv parses the self-descriptions of a RISC-V host and a riscv64
// guest kernel: the ISA string, /proc/cpuinfo and the kernel image header. It has
// no other dependencies, so the checker, the environment report and the VMM
// backends share one reading of these formats.
package riscv

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalidISA is wrapped by every ISA string parse error.
var ErrInvalidISA = errors.New("invalid RISC-V ISA string")

// ISA is a parsed RISC-V ISA string such as "rv64imafdch_zicsr_sstc".
//
// Extension names are lowercase and without their version suffix. Single-letter
// extensions are the letters of the base part (between "rv64" and the first
// underscore) plus any underscore-separated token of one letter, which the ISA
// manual allows ("rv64i2p1_m2p0_h1p0"). Multi-letter extensions (Z*, S*, X*)
// never contribute letters, so "zihpm" does not mean H.
type ISA struct {
	// XLEN is the base integer width: 32, 64 or 128.
	XLEN int
	// Letters are the single-letter extensions, in the order they appeared,
	// with "g" expanded to "imafd".
	Letters string
	// Extensions are the multi-letter extensions, sorted.
	Extensions []string
}

// HasLetter reports whether the single-letter extension c (lowercase) is present.
func (i ISA) HasLetter(c byte) bool {
	return strings.IndexByte(i.Letters, c) >= 0
}

// Has reports whether the extension name is present. A one-letter name is
// looked up among the single-letter extensions, anything longer among the
// multi-letter ones. Case does not matter.
func (i ISA) Has(name string) bool {
	name = strings.ToLower(name)
	if len(name) == 1 {
		return i.HasLetter(name[0])
	}
	n := sort.SearchStrings(i.Extensions, name)
	return n < len(i.Extensions) && i.Extensions[n] == name
}

// Hypervisor reports whether the H extension, which KVM needs, is present.
func (i ISA) Hypervisor() bool {
	return i.HasLetter('h')
}

// String returns the ISA in the form the kernel prints: base letters, then
// the multi-letter extensions joined by underscores. Letters from an "s"
// onwards are written as "_s" tokens, so that ParseISA cannot read them as
// the start of an S extension, and parsing the result gives the same ISA.
func (i ISA) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rv%d", i.XLEN)
	glued := true
	for j := 0; j < len(i.Letters); j++ {
		if i.Letters[j] == 's' {
			glued = false
		}
		if !glued {
			b.WriteByte('_')
		}
		b.WriteByte(i.Letters[j])
	}
	for _, e := range i.Extensions {
		b.WriteByte('_')
		b.WriteString(e)
	}
	return b.String()
}

// ParseISA parses an ISA string as Linux prints it in /proc/cpuinfo or as a
// device tree riscv,isa property spells it, including version suffixes
// ("rv64i2p1m2p0a2p1f2p2d2p2c2p0h1p0_zicsr2p0") and the old "su" privilege
// letters of vendor device trees ("rv64imafdcvsu").
func ParseISA(s string) (ISA, error) {
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))

	rest, ok := strings.CutPrefix(s, "rv")
	if !ok {
		return ISA{}, fmt.Errorf("%w %q: it does not start with rv32, rv64 or rv128", ErrInvalidISA, orig)
	}
	var isa ISA
	switch {
	case strings.HasPrefix(rest, "32"):
		isa.XLEN, rest = 32, rest[2:]
	case strings.HasPrefix(rest, "64"):
		isa.XLEN, rest = 64, rest[2:]
	case strings.HasPrefix(rest, "128"):
		isa.XLEN, rest = 128, rest[3:]
	default:
		return ISA{}, fmt.Errorf("%w %q: the base width after rv is not 32, 64 or 128", ErrInvalidISA, orig)
	}

	tokens := strings.Split(rest, "_")
	letters, multi, err := parseBase(tokens[0])
	if err != nil {
		return ISA{}, fmt.Errorf("%w %q: %v", ErrInvalidISA, orig, err)
	}
	if letters == "" || !strings.ContainsRune("ieg", rune(letters[0])) {
		return ISA{}, fmt.Errorf("%w %q: the first extension after rv%d must be i, e or g", ErrInvalidISA, orig, isa.XLEN)
	}

	exts := map[string]bool{}
	if multi != "" {
		exts[multi] = true
	}
	for _, tok := range tokens[1:] {
		if tok == "" {
			continue
		}
		name, err := stripVersion(tok)
		if err != nil {
			return ISA{}, fmt.Errorf("%w %q: extension %q: %v", ErrInvalidISA, orig, tok, err)
		}
		if name == "x" || name == "z" {
			return ISA{}, fmt.Errorf("%w %q: extension %q has no name after its prefix", ErrInvalidISA, orig, tok)
		}
		if len(name) == 1 {
			letters += expandLetter(name[0])
			continue
		}
		exts[name] = true
	}

	isa.Letters = dedupLetters(letters)
	for e := range exts {
		isa.Extensions = append(isa.Extensions, e)
	}
	sort.Strings(isa.Extensions)
	return isa, nil
}

// parseBase splits the part before the first underscore into its single
// letters, without versions. A Z or X extension, or an S extension other than
// the old "su" letters, may follow the letters without an underscore, and
// parseBase returns it as the multi-letter extension.
func parseBase(base string) (letters, multi string, err error) {
	var b strings.Builder
	for i := 0; i < len(base); {
		c := base[i]
		switch {
		case c == 'z' || c == 'x' || (c == 's' && !oldPrivilegeLetters(base[i:])):
			name, err := stripVersion(base[i:])
			if err != nil {
				return "", "", err
			}
			if len(name) < 2 {
				return "", "", fmt.Errorf("extension %q at offset %d of %q has no name after its prefix", base[i:], i, base)
			}
			return b.String(), name, nil
		case c >= 'a' && c <= 'z':
			b.WriteString(expandLetter(c))
			i = skipVersion(base, i+1)
		default:
			return "", "", fmt.Errorf("unexpected character %q at offset %d of %q", c, i, base)
		}
	}
	return b.String(), "", nil
}

// oldPrivilegeLetters reports whether s is the "s" or "su" tail that older
// device trees append to the letters to mean supervisor and user mode.
func oldPrivilegeLetters(s string) bool {
	s = strings.TrimRight(s, "0123456789p")
	return s == "s" || s == "su"
}

// expandLetter returns the letters a single-letter extension stands for: "g"
// is shorthand for "imafd" (its Zicsr and Zifencei are implied, not listed).
func expandLetter(c byte) string {
	if c == 'g' {
		return "imafd"
	}
	return string(c)
}

// skipVersion returns the index after a version suffix "2", "2p1" or "1p0"
// that starts at i, or i when none starts there. A 'p' not followed by a digit
// is the P extension, not a version separator.
func skipVersion(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i {
		return i
	}
	if j+1 < len(s) && s[j] == 'p' && isDigit(s[j+1]) {
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	return j
}

// stripVersion returns an extension token without its trailing version
// ("zicsr2p0" -> "zicsr", "h1p0" -> "h"). Names keep digits that a letter
// follows ("zve32x", "zvl128b").
func stripVersion(tok string) (string, error) {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if (c < 'a' || c > 'z') && !isDigit(c) {
			return "", fmt.Errorf("unexpected character %q", c)
		}
	}
	if tok[0] < 'a' || tok[0] > 'z' {
		return "", fmt.Errorf("extension names start with a letter")
	}

	end := len(tok)
	for end > 0 && isDigit(tok[end-1]) {
		end--
	}
	if end == len(tok) {
		return tok, nil
	}
	// A minor version: "...<digits>p<digits>".
	if end > 1 && tok[end-1] == 'p' && isDigit(tok[end-2]) {
		minorStart := end - 1
		for minorStart > 0 && isDigit(tok[minorStart-1]) {
			minorStart--
		}
		if minorStart > 0 {
			end = minorStart
		}
	}
	if end == 0 {
		return "", fmt.Errorf("extension names start with a letter")
	}
	return tok[:end], nil
}

func dedupLetters(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(b.String(), rune(s[i])) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
