package stats

import (
	"math"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"single sample p0", ms(7), 0, 7 * time.Millisecond},
		{"single sample p99", ms(7), 99, 7 * time.Millisecond},
		{"min", ms(1, 2, 3, 4), 0, 1 * time.Millisecond},
		{"max", ms(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{"median odd", ms(1, 2, 3, 4, 100), 50, 3 * time.Millisecond},
		{"median even interpolates", ms(1, 2, 3, 4), 50, 2500 * time.Microsecond},
		{"p90 of 11 hits a rank", ms(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"p99 of 2 interpolates", ms(0, 100), 99, 99 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestPercentilePanicsOnBadInput(t *testing.T) {
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
	}{
		{"empty", nil, 50},
		{"negative", ms(1), -1},
		{"above 100", ms(1), 101},
		{"NaN", ms(1), math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Percentile(%v, %v) did not panic", tt.sorted, tt.p)
				}
			}()
			Percentile(tt.sorted, tt.p)
		})
	}
}

func TestSummarizeUnsorted(t *testing.T) {
	samples := ms(30, 10, 20, 50, 40)
	got := Summarize(samples)
	want := Summary{
		Count: 5,
		Min:   10 * time.Millisecond,
		P50:   30 * time.Millisecond,
		P90:   46 * time.Millisecond,
		P99:   49600 * time.Microsecond,
		Max:   50 * time.Millisecond,
		Mean:  30 * time.Millisecond,
	}
	if got != want {
		t.Errorf("Summarize(%v) = %+v, want %+v", samples, got, want)
	}
	if samples[0] != 30*time.Millisecond {
		t.Errorf("Summarize sorted its input in place: %v", samples)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v, want the zero Summary", got)
	}
}

func TestRatio(t *testing.T) {
	if got := Ratio(3*time.Second, 2*time.Second); got != 1.5 {
		t.Errorf("Ratio(3s, 2s) = %v, want 1.5", got)
	}
	if got := Ratio(time.Second, 0); !math.IsNaN(got) {
		t.Errorf("Ratio(1s, 0) = %v, want NaN", got)
	}
}
