package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/sirupsen/logrus"
)

// load decodes data (the contents of path), classifies every key the typed
// schema did not take, and validates the rest.
func (l Loader) load(path string, data []byte) (*Config, error) {
	ps := &problems{file: path, lines: scanKeyLines(data)}

	var raw tomlFile
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		ps.list = append(ps.list, decodeProblem(path, err))
		return nil, ps.err()
	}
	var generic map[string]any
	if _, err := toml.Decode(string(data), &generic); err != nil {
		return nil, fmt.Errorf("decoding %s a second time: %w", path, err)
	}

	d := &decoder{loader: l, md: md, ps: ps, generic: generic}
	d.classifyUndecoded()
	cfg := d.build(path, &raw)
	ps.sort()

	if l.Lenient {
		var remaining []*Problem
		for _, p := range ps.list {
			if errors.Is(p, ErrMissingFile) {
				cfg.MissingFiles = append(cfg.MissingFiles, p)
			} else {
				remaining = append(remaining, p)
			}
		}
		ps.list = remaining
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// decodeProblem turns a decoder error into a Problem. A TOML syntax error
// carries its position. A type mismatch names its line and key only inside
// the message, which is parsed below.
func decodeProblem(path string, err error) *Problem {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		reason := pe.Message
		if pe.Position.Col > 0 {
			reason = fmt.Sprintf("column %d: %s", pe.Position.Col, reason)
		}
		return &Problem{
			File:   path,
			Line:   pe.Position.Line,
			Key:    pe.LastKey,
			Reason: reason,
			Fix:    "correct the TOML syntax at that position (the shipped configuration-qemu.toml shows the expected form)",
			Err:    ErrSyntax,
		}
	}
	p := &Problem{
		File:   path,
		Reason: err.Error(),
		Fix:    "give the key a value of the TOML type the shipped configuration-qemu.toml uses (a quoted string, a number, true/false or a list)",
		Err:    ErrSyntax,
	}
	// BurntSushi/toml formats type mismatches as
	// `toml: line N (last key "K"): MESSAGE` without a typed error.
	if m := typeErrorPattern.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Key, p.Reason = m[2], m[3]
	}
	return p
}

var typeErrorPattern = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// decoder carries one file's decoding state.
type decoder struct {
	loader  Loader
	md      toml.MetaData
	ps      *problems
	generic map[string]any
}

// classifyUndecoded sorts the keys the typed schema did not take into keys
// upstream reads (ignored, with a warning when changed) and unknown keys
// (errors).
func (d *decoder) classifyUndecoded() {
	warnedSection := map[string]bool{}
	for _, k := range d.md.Undecoded() {
		full := k.String()
		switch {
		case len(k) >= 1 && ignoredSections[k[0]] != "":
			if len(k) > 1 && !warnedSection[k[0]] && changed(k, d.value(k)) {
				warnedSection[k[0]] = true
				d.warnIgnored(full, ignoredSections[k[0]])
			}

		case len(k) == 3 && k[0] == "hypervisor":
			if foreignHypervisors[k[1]] {
				continue // the whole section is reported by build
			}
			d.classifyKey(k, ignoredHypervisorKeys, hypervisorKnownKeys)

		case len(k) == 3 && k[0] == "agent":
			d.classifyKey(k, ignoredAgentKeys, agentKnownKeys)

		case len(k) == 2 && k[0] == "runtime":
			d.classifyKey(k, ignoredRuntimeKeys, runtimeKnownKeys)

		case len(k) > 3 && (k[0] == "hypervisor" || k[0] == "agent"),
			len(k) > 2 && k[0] == "runtime":
			// Keys inside an inline or nested table under a key reported above.

		default:
			d.ps.add(ErrUnknownKey, full, nil,
				"unknown section or key; upstream Kata and kata-riscv64 read only [hypervisor.qemu], [hypervisor.firecracker], [agent.kata], [runtime], [factory] and [image]",
				"remove it, or move its keys into one of those sections")
		}
	}
}

func (d *decoder) classifyKey(k toml.Key, ignored map[string]string, known []string) {
	name := k[len(k)-1]
	if reason, ok := ignored[name]; ok {
		if changed(k, d.value(k)) {
			d.warnIgnored(k.String(), reason)
		}
		return
	}

	fix := "remove it or correct its spelling"
	if s := closest(name, known); s != "" {
		fix = fmt.Sprintf("remove it or correct its spelling (did you mean %q?)", s)
	}
	d.ps.add(ErrUnknownKey, k.String(), d.scalar(k), "unknown key", fix)
}

func (d *decoder) warnIgnored(key, reason string) {
	d.loader.log().WithFields(logrus.Fields{
		"file": d.ps.file,
		"line": d.ps.lines.line(key),
		"key":  key,
	}).Warnf("ignoring %s: %s", key, reason)
}

// value returns the decoded value at k, or nil.
func (d *decoder) value(k toml.Key) any {
	var cur any = d.generic
	for _, part := range k {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// scalar returns the value at k for an error message, or nil for a table.
func (d *decoder) scalar(k toml.Key) any {
	v := d.value(k)
	if _, isTable := v.(map[string]any); isTable {
		return nil
	}
	return v
}

// changed reports whether the value v of the ignored key k differs from both
// the zero value and upstream's default.
func changed(k toml.Key, v any) bool {
	if isZero(v) {
		return false
	}
	def, ok := upstreamDefaults[k[len(k)-1]]
	return !ok || fmt.Sprint(v) != def
}

func isZero(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		return rv.Len() == 0
	}
	return rv.IsZero()
}

// The keys each section accepts: the typed schema's plus the ignored ones.
var (
	hypervisorKnownKeys = knownKeys(tomlHypervisor{}, ignoredHypervisorKeys)
	agentKnownKeys      = knownKeys(tomlAgent{}, ignoredAgentKeys)
	runtimeKnownKeys    = knownKeys(tomlRuntime{}, ignoredRuntimeKeys)
)

func knownKeys(schema any, ignored map[string]string) []string {
	var keys []string
	t := reflect.TypeOf(schema)
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			keys = append(keys, tag)
		}
	}
	for k := range ignored {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// closest returns the known key nearest to name by edit distance, when it is
// close enough to be a likely misspelling.
func closest(name string, known []string) string {
	best, bestDist := "", len(name)/3+2
	for _, k := range known {
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sectionKey joins a section and a key into the full dotted key.
func sectionKey(section ...string) string { return strings.Join(section, ".") }
