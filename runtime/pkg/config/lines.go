package config

import (
	"bufio"
	"bytes"
	"strings"
)

// keyLines maps full dotted keys ("hypervisor.qemu.kernel") and table names
// ("hypervisor.qemu") to the 1-based line that defines them.
//
// BurntSushi/toml records key positions but does not export them, so
// scanKeyLines finds them again. It runs only on text the TOML decoder has
// already accepted, which lets it skip the grammar and track just what hides
// a line start: multi-line strings and arrays or inline tables spanning lines.
type keyLines map[string]int

// line returns the line of key, or of its closest enclosing table when the
// key itself was not found (a key inside an inline table), or 0.
func (kl keyLines) line(key string) int {
	for k := key; k != ""; {
		if n, ok := kl[k]; ok {
			return n
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func scanKeyLines(data []byte) keyLines {
	kl := keyLines{}
	var (
		table     string
		openQuote string // the """ or ''' of a multi-line string in progress
		depth     int    // open [ and { of a value spanning lines
	)

	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()

		if openQuote != "" {
			i := strings.Index(line, openQuote)
			if i < 0 {
				continue
			}
			depth, openQuote = scanValue(line[i+3:], depth)
			continue
		}
		if depth > 0 {
			depth, openQuote = scanValue(line, depth)
			continue
		}

		text := strings.TrimSpace(line)
		switch {
		case text == "" || text[0] == '#':
			continue
		case text[0] == '[':
			name := strings.Trim(stripComment(text), "[] \t")
			table = joinKey(splitKey(name))
			if _, seen := kl[table]; !seen {
				kl[table] = n
			}
			continue
		}

		keyPart, valuePart, ok := cutUnquoted(text, '=')
		if !ok {
			continue
		}
		key := joinKey(splitKey(keyPart))
		if table != "" {
			key = table + "." + key
		}
		kl[key] = n
		depth, openQuote = scanValue(valuePart, 0)
	}
	return kl
}

// scanValue walks a value's text and returns the bracket depth and an open
// multi-line string delimiter left at the end of the line.
func scanValue(s string, depth int) (int, string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '#':
			return depth, ""
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case '"', '\'':
			delim := string(c)
			if strings.HasPrefix(s[i:], strings.Repeat(delim, 3)) {
				delim = strings.Repeat(delim, 3)
			}
			end := closingQuote(s[i+len(delim):], delim)
			if end < 0 {
				if len(delim) == 3 {
					return depth, delim
				}
				return depth, ""
			}
			i += len(delim) + end + len(delim) - 1
		}
	}
	return depth, ""
}

// closingQuote returns the index of delim in s, skipping backslash escapes in
// basic strings, or -1.
func closingQuote(s, delim string) int {
	for i := 0; i+len(delim) <= len(s); i++ {
		if delim[0] == '"' && s[i] == '\\' {
			i++
			continue
		}
		if s[i:i+len(delim)] == delim {
			return i
		}
	}
	return -1
}

// cutUnquoted splits s at the first sep outside quotes.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == sep:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func stripComment(s string) string {
	before, _, _ := cutUnquoted(s, '#')
	return strings.TrimSpace(before)
}

// splitKey splits a dotted TOML key and removes the quotes and spaces around
// each part.
func splitKey(s string) []string {
	var parts []string
	for {
		before, after, found := cutUnquoted(s, '.')
		part := strings.TrimSpace(before)
		if len(part) >= 2 && (part[0] == '"' || part[0] == '\'') {
			part = part[1 : len(part)-1]
		}
		parts = append(parts, part)
		if !found {
			return parts
		}
		s = after
	}
}

func joinKey(parts []string) string { return strings.Join(parts, ".") }
