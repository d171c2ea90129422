package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrAgentTimeout reports an agent that did not respond within the dial
// timeout.
var ErrAgentTimeout = errors.New("agent did not respond")

// AgentCheck dials the agent at url, in Hypervisor.AgentURL's forms, and
// returns nil once the agent answers, for example to a Health Check.
type AgentCheck func(ctx context.Context, url string) error

// consoleLogOwner is a Hypervisor that copies the guest console into a file,
// which StopVM removes: a failed wait quotes its end before stopping.
type consoleLogOwner interface {
	ConsoleLogPath() string
}

// agentRetryInterval is the pause between two failed agent checks.
const agentRetryInterval = 100 * time.Millisecond

// StartVMAndWaitForAgent starts the VM and retries check until it succeeds
// or dialTimeout passes. When the agent does not respond in time, or the VMM
// exits first, it stops the VM, which removes every process and file the
// start created, and returns the last check error.
func StartVMAndWaitForAgent(ctx context.Context, h Hypervisor, check AgentCheck, dialTimeout time.Duration) error {
	if err := h.StartVM(ctx); err != nil {
		return err
	}

	err := waitForAgent(ctx, h, check, dialTimeout)
	if err == nil {
		return nil
	}
	if c, ok := h.(consoleLogOwner); ok {
		if tail := strings.TrimSpace(fileTail(c.ConsoleLogPath(), consoleTailBytes)); tail != "" {
			err = fmt.Errorf("%w\nguest console (last %d bytes):\n%s", err, consoleTailBytes, tail)
		}
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), defaultStopTimeout)
	defer cancel()
	if stopErr := h.StopVM(stopCtx); stopErr != nil {
		return errors.Join(err, fmt.Errorf("stopping the VM after the agent failed: %w", stopErr))
	}
	return err
}

func waitForAgent(ctx context.Context, h Hypervisor, check AgentCheck, dialTimeout time.Duration) error {
	url, err := h.AgentURL()
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()

	var lastErr error
	for {
		if lastErr = check(ctx, url); lastErr == nil {
			return nil
		}
		select {
		case <-h.Exited():
			return fmt.Errorf("waiting for the agent at %s: %w (last check: %v)", url, ErrVMExited, lastErr)
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return fmt.Errorf("waiting for the agent at %s: %w", url, ctx.Err())
			}
			return fmt.Errorf("agent at %s after %v: %w (last check: %v); raise dial_timeout in [agent.kata] or look at the guest console",
				url, dialTimeout, ErrAgentTimeout, lastErr)
		case <-time.After(agentRetryInterval):
		}
	}
}
