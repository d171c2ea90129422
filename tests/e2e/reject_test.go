//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/containerdshim/shimtest"
)

// TestKataRejectsBadInput checks that task creation fails with an error
// naming the value at fault, and leaves nothing behind, for each input that
// shimtest.BadInputs breaks.
func TestKataRejectsBadInput(t *testing.T) {
	s := setupKata(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	inputs, err := shimtest.BadInputs(s.dir, s.config, s.rootfs, "e2e-bad-")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		t.Run(in.Name, func(t *testing.T) {
			shimtest.CheckRejected(ctx, t, s.ctr, in, "/bin/echo", shimtest.MustNotRun)
		})
	}
}
