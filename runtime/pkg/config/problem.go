package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors that classify a Problem. Callers decide with errors.Is on a
// *Problem or on the *Error that collects them.
var (
	// ErrNotFound reports that no configuration file was found.
	ErrNotFound = errors.New("configuration file not found")
	// ErrSyntax reports TOML that does not parse, or a value of the wrong TOML type.
	ErrSyntax = errors.New("invalid TOML")
	// ErrUnknownKey reports a key that neither this runtime nor upstream Kata reads.
	ErrUnknownKey = errors.New("unknown key")
	// ErrInvalidValue reports a value outside the key's allowed set or range.
	ErrInvalidValue = errors.New("invalid value")
	// ErrUnsupported reports a setting the riscv64 virt machine or the chosen
	// VMM cannot honour.
	ErrUnsupported = errors.New("not supported on riscv64")
	// ErrMissingFile reports a configured file (kernel, image, initrd,
	// firmware, VMM or daemon binary) that does not exist or has the wrong
	// type. In lenient mode these problems do not fail the load.
	ErrMissingFile = errors.New("missing file")
)

// Problem is one defect found in a configuration file: where it is, what is
// wrong with it and how to fix it.
type Problem struct {
	// File is the configuration file.
	File string
	// Line is the 1-based line of the key, or of its section when the key is
	// not in the file (a default value), or 0 when neither is in the file.
	Line int
	// Key is the full dotted key, such as "hypervisor.qemu.kernel".
	Key string
	// Value is the offending value as written, empty when not applicable.
	Value string
	// Reason is the defect, and Fix is the action that removes it.
	Reason string
	Fix    string
	// Err is one of the sentinel errors above.
	Err error
}

// Error formats the problem as "FILE:LINE: KEY = VALUE: REASON; fix: FIX".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		if p.Value != "" {
			fmt.Fprintf(&b, " = %s", p.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Reason)
	if p.Fix != "" {
		b.WriteString("; fix: ")
		b.WriteString(p.Fix)
	}
	return b.String()
}

func (p *Problem) Unwrap() error { return p.Err }

// Error collects every problem of one configuration file, so that a user
// fixes them in one pass instead of one per run.
type Error struct {
	File     string
	Problems []*Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration: %d problems in %s:", len(e.Problems), e.File)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems, so that errors.Is(err, ErrMissingFile) holds
// when any of them is a missing file.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problems accumulates the problems of one file, filling in the file name
// and the line of each key.
type problems struct {
	file  string
	lines keyLines
	list  []*Problem
}

// add records a problem on key (a full dotted key). value is formatted with
// %q for strings and %v otherwise; a nil value leaves Value empty.
func (ps *problems) add(sentinel error, key string, value any, reason, fix string) {
	ps.list = append(ps.list, &Problem{
		File:   ps.file,
		Line:   ps.lines.line(key),
		Key:    key,
		Value:  formatValue(value),
		Reason: reason,
		Fix:    fix,
		Err:    sentinel,
	})
}

func formatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return fmt.Sprintf("%q", v)
	case []string:
		quoted := make([]string, len(v))
		for i, s := range v {
			quoted[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// err returns the problems, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &Error{File: ps.file, Problems: ps.list}
}

// sort orders the problems by line, those without a line (defaults) last.
func (ps *problems) sort() {
	sort.SliceStable(ps.list, func(i, j int) bool {
		li, lj := ps.list[i].Line, ps.list[j].Line
		if li == 0 || lj == 0 {
			return lj == 0 && li != 0
		}
		return li < lj
	})
}
