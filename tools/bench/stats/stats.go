// Package stats summarises benchmark samples as the percentiles the
// benchmark records report.
package stats

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary is the distribution of one metric. JSON encodes the durations as
// integer nanoseconds.
type Summary struct {
	Count int           `json:"count"`
	Min   time.Duration `json:"min_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
	Mean  time.Duration `json:"mean_ns"`
}

// Summarize returns the summary of samples, which it does not modify. An
// empty slice gives a zero Summary with Count 0.
func Summarize(samples []time.Duration) Summary {
	if len(samples) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)

	var sum float64
	for _, s := range sorted {
		sum += float64(s)
	}
	return Summary{
		Count: len(sorted),
		Min:   sorted[0],
		P50:   Percentile(sorted, 50),
		P90:   Percentile(sorted, 90),
		P99:   Percentile(sorted, 99),
		Max:   sorted[len(sorted)-1],
		Mean:  time.Duration(math.Round(sum / float64(len(sorted)))),
	}
}

// Percentile returns the p-th percentile (0 <= p <= 100) of sorted, which
// must be in ascending order, by linear interpolation between the closest
// ranks (the method of numpy's default and of Excel's PERCENTILE.INC). It
// panics on an empty slice or a p outside [0, 100].
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		panic("stats: percentile of no samples")
	}
	if p < 0 || p > 100 || math.IsNaN(p) {
		panic(fmt.Sprintf("stats: percentile %v outside [0, 100]", p))
	}

	rank := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	if lo == hi {
		return sorted[lo]
	}
	frac := rank - float64(lo)
	return sorted[lo] + time.Duration(math.Round(frac*float64(sorted[hi]-sorted[lo])))
}

// Ratio returns a/b, or NaN when b is zero.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}
