package run

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// markerPrefix starts the line benchguest prints; see tools/bench/benchguest.
const markerPrefix = "BENCH-MARK "

// guestTimes are the durations the guest measured itself.
type guestTimes struct {
	// Uptime is the guest's CLOCK_BOOTTIME when the marker was printed:
	// from the guest kernel's start to the container's output.
	Uptime time.Duration
	// ProcessAge is the time from the kernel's start of the marker process
	// to its output, with a resolution of 10 ms.
	ProcessAge time.Duration
}

// parseMarker parses a line "BENCH-MARK uptime_ns=U age_ns=A".
func parseMarker(line string) (guestTimes, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), markerPrefix)
	if !ok {
		return guestTimes{}, fmt.Errorf("invalid marker %q: want a line starting with %q", line, markerPrefix)
	}

	var g guestTimes
	seen := map[string]bool{}
	for _, field := range strings.Fields(rest) {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return guestTimes{}, fmt.Errorf("invalid marker %q: field %q is not key=value", line, field)
		}
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return guestTimes{}, fmt.Errorf("invalid marker %q: %s=%q is not a count of nanoseconds", line, key, value)
		}
		switch key {
		case "uptime_ns":
			g.Uptime = time.Duration(n)
		case "age_ns":
			g.ProcessAge = time.Duration(n)
		default:
			continue
		}
		seen[key] = true
	}
	if !seen["uptime_ns"] || !seen["age_ns"] {
		return guestTimes{}, fmt.Errorf("invalid marker %q: want both uptime_ns and age_ns", line)
	}
	return g, nil
}
