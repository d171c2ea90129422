package virtcontainers

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkFirecrackerStartStop measures the backend's own share of a
// sandbox start and stop: launching the VMM process, the API configuration,
// the wait for Running, SIGTERM and cleanup. It runs against the stand-in
// firecracker process, which boots no guest, so guest boot time is not in
// the result.
func BenchmarkFirecrackerStartStop(b *testing.B) {
	f := newFCFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fc, err := NewFirecracker(fmt.Sprintf("bench-%d", i), f.config(), AgentConfig{}, f.options())
		if err != nil {
			b.Fatal(err)
		}
		if err := fc.StartVM(ctx); err != nil {
			b.Fatal(err)
		}
		if err := fc.StopVM(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
