package shimtest

import (
	"fmt"
	"regexp"
)

// SetKey replaces the first line of the TOML text cfg that sets key,
// commented out or not, with line, and drops later lines that set key.
// The shipped configurations list each key once, some only as a comment,
// so the tests derive theirs from them by replacing lines.
func SetKey(cfg, key, line string) (string, error) {
	re := regexp.MustCompile(`(?m)^#?\s*` + regexp.QuoteMeta(key) + `\s*=.*$`)
	if !re.MatchString(cfg) {
		return "", fmt.Errorf("the configuration has no line for key %s, commented out or not", key)
	}
	done := false
	return re.ReplaceAllStringFunc(cfg, func(string) string {
		if done {
			return ""
		}
		done = true
		return line
	}), nil
}
