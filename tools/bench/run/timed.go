package run

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// clientTimes are the latencies that a client of containerd measures for one process.
type clientTimes struct {
	// Start is the wall-clock time at which ctr was started.
	Start time.Time
	// FirstOutput is from the start of ctr to the first line on its stdout.
	FirstOutput time.Duration
	// Exit is from the start of ctr to its exit, which for `ctr run --rm`
	// includes the teardown of the sandbox.
	Exit time.Duration
}

// maxOutput bounds the output kept for error messages.
const maxOutput = 8 << 10

// runTimed runs ctr with args, timing its first stdout line and its exit,
// and parses the benchguest marker from its stdout. A non-zero exit, a
// missing marker or a timeout is an error carrying the output.
func (s *stack) runTimed(ctx context.Context, timeout time.Duration, args ...string) (clientTimes, guestTimes, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := s.ctrCommand(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return clientTimes{}, guestTimes{}, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return clientTimes{}, guestTimes{}, fmt.Errorf("starting ctr: %w", err)
	}

	var (
		c      = clientTimes{Start: start}
		marker string
		output strings.Builder
	)
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		if c.FirstOutput == 0 {
			c.FirstOutput = time.Since(start)
		}
		line := scanner.Text()
		if marker == "" && strings.HasPrefix(line, markerPrefix) {
			marker = line
		}
		if output.Len() < maxOutput {
			output.WriteString(line + "\n")
		}
	}
	scanErr := scanner.Err()
	_, _ = io.Copy(io.Discard, stdout)
	waitErr := cmd.Wait()
	c.Exit = time.Since(start)

	describe := func(err error) error {
		return fmt.Errorf("ctr %s: %w\nstdout:\n%sstderr:\n%s", strings.Join(args, " "), err, output.String(), tailString(stderr.String(), maxOutput))
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return c, guestTimes{}, describe(fmt.Errorf("no exit within %v", timeout))
	case ctx.Err() != nil:
		return c, guestTimes{}, ctx.Err()
	case waitErr != nil:
		return c, guestTimes{}, describe(waitErr)
	case scanErr != nil:
		return c, guestTimes{}, describe(fmt.Errorf("reading the output: %w", scanErr))
	case marker == "":
		return c, guestTimes{}, describe(errors.New("no marker line in the output"))
	}

	g, err := parseMarker(marker)
	if err != nil {
		return c, guestTimes{}, describe(err)
	}
	return c, g, nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
