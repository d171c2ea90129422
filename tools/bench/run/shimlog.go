package run

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// shimCreateMessage is the message the shim logs when containerd's Create
// reaches it (runtime/pkg/containerdshim/create.go). containerd copies the
// shim's log into its own, with the shim's timestamp.
const shimCreateMessage = `msg="create task"`

var logTimeRE = regexp.MustCompile(`(?:^|\s)time="([^"]+)"`)

// shimCreateTime returns when the shim received the Create of container id,
// from the containerd log at path.
func shimCreateTime(path, id string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the containerd log: %w", err)
	}
	defer f.Close()

	want := " container=" + id
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := s.Text()
		if !strings.Contains(line, shimCreateMessage) || !hasField(line, want) {
			continue
		}
		m := logTimeRE.FindStringSubmatch(line)
		if m == nil {
			return time.Time{}, fmt.Errorf("containerd log %s: create task line of %s has no time: %q", path, id, line)
		}
		t, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			return time.Time{}, fmt.Errorf("containerd log %s: invalid time %q: %w", path, m[1], err)
		}
		return t, nil
	}
	if err := s.Err(); err != nil {
		return time.Time{}, fmt.Errorf("reading the containerd log %s: %w", path, err)
	}
	return time.Time{}, fmt.Errorf("containerd log %s has no %s line for container %s", path, shimCreateMessage, id)
}

// hasField reports whether line contains field followed by a space or the
// end of the line, so that container=a does not match container=ab.
func hasField(line, field string) bool {
	for i := 0; ; {
		j := strings.Index(line[i:], field)
		if j < 0 {
			return false
		}
		end := i + j + len(field)
		if end == len(line) || line[end] == ' ' {
			return true
		}
		i = end
	}
}
