package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svgDoc is the part of the written SVG the tests inspect.
type svgDoc struct {
	Texts     []string `xml:"text"`
	Polylines []struct {
		Series string `xml:"data-series,attr"`
		Points string `xml:"points,attr"`
	} `xml:"polyline"`
}

type point struct{ x, y float64 }

func parsePoints(t *testing.T, s string) []point {
	t.Helper()
	var out []point
	for _, pair := range strings.Fields(s) {
		xs, ys, ok := strings.Cut(pair, ",")
		if !ok {
			t.Fatalf("point %q has no comma", pair)
		}
		x, err := strconv.ParseFloat(xs, 64)
		if err != nil {
			t.Fatalf("point %q: %v", pair, err)
		}
		y, err := strconv.ParseFloat(ys, 64)
		if err != nil {
			t.Fatalf("point %q: %v", pair, err)
		}
		out = append(out, point{x, y})
	}
	return out
}

func render(t *testing.T, c CDF) svgDoc {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	var doc svgDoc
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("output is not well-formed XML: %v\n%s", err, buf.String())
	}
	return doc
}

func TestWriteSVGSeriesSteps(t *testing.T) {
	c := CDF{
		Title: "cold <start> & bare",
		Series: []Series{
			{Name: "cold", Samples: []time.Duration{3 * time.Second, time.Second, 2 * time.Second}},
			{Name: "bare", Samples: []time.Duration{500 * time.Millisecond}},
		},
	}
	doc := render(t, c)

	if len(doc.Polylines) != 2 {
		t.Fatalf("got %d polylines, want 2", len(doc.Polylines))
	}
	for i, s := range c.Series {
		line := doc.Polylines[i]
		if line.Series != s.Name {
			t.Errorf("polyline %d is series %q, want %q", i, line.Series, s.Name)
		}
		pts := parsePoints(t, line.Points)
		if want := 2*len(s.Samples) + 1; len(pts) != want {
			t.Errorf("series %q has %d points, want %d (a start and two per sample)", s.Name, len(pts), want)
		}
		for j := 1; j < len(pts); j++ {
			if pts[j].x < pts[j-1].x {
				t.Errorf("series %q: x falls from %v to %v at point %d", s.Name, pts[j-1].x, pts[j].x, j)
			}
			if pts[j].y > pts[j-1].y {
				t.Errorf("series %q: the cumulative fraction falls at point %d (y %v to %v)", s.Name, j, pts[j-1].y, pts[j].y)
			}
		}
		// The points are printed with one decimal.
		if first, last := pts[0].y, pts[len(pts)-1].y; math.Abs(first-y(0)) > 0.05 || math.Abs(last-y(1)) > 0.05 {
			t.Errorf("series %q runs from y=%v to y=%v, want %v (fraction 0) to %v (fraction 1)", s.Name, first, last, y(0), y(1))
		}
	}

	var all string
	for _, text := range doc.Texts {
		all += text + "\n"
	}
	for _, want := range []string{"cold <start> & bare", "cold (n=3)", "bare (n=1)", "100ms", "1s", "10s"} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG text lacks %q; texts:\n%s", want, all)
		}
	}
}

func TestLogAxisSpacing(t *testing.T) {
	axis := newLogAxis(20*time.Millisecond, 3*time.Second)
	if axis.minExp != -2 || axis.maxExp != 1 {
		t.Fatalf("axis spans 10^%d to 10^%d s, want 10^-2 to 10^1", axis.minExp, axis.maxExp)
	}
	if got := axis.x(10 * time.Millisecond); math.Abs(got-marginLeft) > 1e-9 {
		t.Errorf("x(10ms) = %v, want the left edge %v", got, marginLeft)
	}
	if got := axis.x(10 * time.Second); math.Abs(got-(marginLeft+plotWidth)) > 1e-9 {
		t.Errorf("x(10s) = %v, want the right edge %v", got, marginLeft+plotWidth)
	}
	decade1 := axis.x(100*time.Millisecond) - axis.x(10*time.Millisecond)
	decade2 := axis.x(time.Second) - axis.x(100*time.Millisecond)
	if math.Abs(decade1-decade2) > 1e-9 {
		t.Errorf("decades are %v and %v pixels wide, want equal widths on a logarithmic axis", decade1, decade2)
	}
}

func TestLogAxisSingleValue(t *testing.T) {
	axis := newLogAxis(time.Second, time.Second)
	if axis.maxExp <= axis.minExp {
		t.Errorf("axis for one value spans 10^%d to 10^%d, want at least one decade", axis.minExp, axis.maxExp)
	}
}

func TestWriteSVGRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		cdf     CDF
		wantErr string
	}{
		{"no series", CDF{Title: "empty"}, "no samples"},
		{"empty series", CDF{Series: []Series{{Name: "a"}}}, "no samples"},
		{"zero sample", CDF{Series: []Series{{Name: "a", Samples: []time.Duration{0, time.Second}}}}, "not positive"},
		{"negative sample", CDF{Series: []Series{{Name: "a", Samples: []time.Duration{-time.Second}}}}, "not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := tt.cdf.WriteSVG(&buf)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WriteSVG error = %v, want one containing %q", err, tt.wantErr)
			}
			if buf.Len() != 0 {
				t.Errorf("WriteSVG wrote %d bytes despite the error", buf.Len())
			}
		})
	}
	if err := (CDF{}).WriteSVG(&bytes.Buffer{}); !errors.Is(err, ErrNoData) {
		t.Errorf("error of an empty plot = %v, want ErrNoData", err)
	}
}

func TestTickLabel(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "10s"},
		{time.Second, "1s"},
		{200 * time.Millisecond, "200ms"},
		{5 * time.Microsecond, "5µs"},
		{100, "100ns"},
	}
	for _, tt := range tests {
		if got := tickLabel(tt.d); got != tt.want {
			t.Errorf("tickLabel(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
