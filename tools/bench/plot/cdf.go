// Package plot writes latency distributions as SVG: the empirical cumulative
// distribution of each series on a logarithmic time axis, the form in which
// boot and start-up latencies spanning several orders of magnitude stay
// readable. SVG needs no plotting library and renders in browsers and on
// code-hosting sites.
package plot

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Series is one named set of samples.
type Series struct {
	Name    string
	Samples []time.Duration
}

// CDF is a plot of the cumulative distributions of several series.
type CDF struct {
	Title  string
	Series []Series
}

// ErrNoData reports a plot without samples.
var ErrNoData = errors.New("no samples to plot")

// Geometry of the SVG canvas, in pixels.
const (
	width        = 760
	height       = 440
	marginLeft   = 70
	marginRight  = 20
	marginTop    = 40
	marginBottom = 110 // room for the axis label and the legend
	plotWidth    = width - marginLeft - marginRight
	plotHeight   = height - marginTop - marginBottom
)

// palette holds colours that stay distinct for readers with the common forms
// of colour blindness (Okabe and Ito, 2008).
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

// logAxis maps durations to x pixels on a base-10 logarithmic scale spanning
// whole decades.
type logAxis struct {
	minExp, maxExp int // the axis spans 10^minExp to 10^maxExp seconds
}

func newLogAxis(lo, hi time.Duration) logAxis {
	a := logAxis{
		minExp: int(math.Floor(math.Log10(lo.Seconds()))),
		maxExp: int(math.Ceil(math.Log10(hi.Seconds()))),
	}
	if a.maxExp == a.minExp {
		a.maxExp++
	}
	return a
}

func (a logAxis) x(d time.Duration) float64 {
	frac := (math.Log10(d.Seconds()) - float64(a.minExp)) / float64(a.maxExp-a.minExp)
	return marginLeft + frac*plotWidth
}

func y(fraction float64) float64 {
	return marginTop + (1-fraction)*plotHeight
}

// WriteSVG writes the plot to w. Every sample must be positive, because a
// logarithmic axis has no place for zero.
func (c CDF) WriteSVG(w io.Writer) error {
	lo, hi, err := c.bounds()
	if err != nil {
		return err
	}
	axis := newLogAxis(lo, hi)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" text-anchor="middle">%s</text>`+"\n", width/2, escape(c.Title))

	writeGrid(&b, axis)
	for i, s := range c.Series {
		writeSeries(&b, axis, s, palette[i%len(palette)])
		writeLegendEntry(&b, i, s, palette[i%len(palette)])
	}

	b.WriteString("</svg>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// bounds returns the smallest and largest sample of all series.
func (c CDF) bounds() (lo, hi time.Duration, err error) {
	n := 0
	for _, s := range c.Series {
		for _, v := range s.Samples {
			if v <= 0 {
				return 0, 0, fmt.Errorf("series %q: sample %v is not positive, so it has no place on a logarithmic axis", s.Name, v)
			}
			if n == 0 || v < lo {
				lo = v
			}
			if n == 0 || v > hi {
				hi = v
			}
			n++
		}
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("plot %q: %w", c.Title, ErrNoData)
	}
	return lo, hi, nil
}

// writeGrid draws the axes, a vertical line at 1, 2 and 5 of every decade
// and horizontal lines at every quarter of the cumulative fraction.
func writeGrid(b *strings.Builder, axis logAxis) {
	for exp := axis.minExp; exp <= axis.maxExp; exp++ {
		for _, m := range []float64{1, 2, 5} {
			if exp == axis.maxExp && m > 1 {
				break
			}
			d := time.Duration(m * math.Pow(10, float64(exp)) * float64(time.Second))
			x := axis.x(d)
			stroke := "#e4e4e4"
			if m == 1 {
				stroke = "#b0b0b0"
			}
			fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`+"\n", x, marginTop, x, marginTop+plotHeight, stroke)
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, marginTop+plotHeight+16, tickLabel(d))
		}
	}
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 0.9, 1} {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e4e4e4"/>`+"\n", marginLeft, y(f), marginLeft+plotWidth, y(f))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n", marginLeft-6, y(f)+4, f)
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>`+"\n", marginLeft, marginTop, plotWidth, plotHeight)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">latency (logarithmic)</text>`+"\n", marginLeft+plotWidth/2, marginTop+plotHeight+34)
	fmt.Fprintf(b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">fraction of runs at or below</text>`+"\n",
		marginTop+plotHeight/2, marginTop+plotHeight/2)
}

// writeSeries draws the empirical CDF of s as a step line: at each sorted
// sample the fraction rises by 1/n.
func writeSeries(b *strings.Builder, axis logAxis, s Series, colour string) {
	if len(s.Samples) == 0 {
		return
	}
	sorted := slices.Clone(s.Samples)
	slices.Sort(sorted)

	n := float64(len(sorted))
	points := []string{fmt.Sprintf("%.1f,%.1f", axis.x(sorted[0]), y(0))}
	for i, v := range sorted {
		x := axis.x(v)
		points = append(points, fmt.Sprintf("%.1f,%.1f", x, y(float64(i)/n)), fmt.Sprintf("%.1f,%.1f", x, y(float64(i+1)/n)))
	}
	fmt.Fprintf(b, `<polyline data-series="%s" fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n",
		escape(s.Name), colour, strings.Join(points, " "))
}

func writeLegendEntry(b *strings.Builder, i int, s Series, colour string) {
	col, row := i%2, i/2
	x := marginLeft + col*plotWidth/2
	yy := marginTop + plotHeight + 56 + row*18
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", x, yy-4, x+24, yy-4, colour)
	fmt.Fprintf(b, `<text x="%d" y="%d">%s (n=%d)</text>`+"\n", x+30, yy, escape(s.Name), len(s.Samples))
}

// tickLabel formats a 1-2-5 tick value in the largest unit that keeps it whole.
func tickLabel(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%gs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%gms", float64(d)/float64(time.Millisecond))
	case d >= time.Microsecond:
		return fmt.Sprintf("%gµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	}
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func escape(s string) string { return escaper.Replace(s) }
