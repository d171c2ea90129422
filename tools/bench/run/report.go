package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kata-riscv64/kata-riscv64/tools/bench/plot"
)

// WriteTable writes the summaries, the memory figures and the ratio as a
// plain-text table.
func WriteTable(w io.Writer, r *Results) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tmetric\tn\tmin\tp50\tp90\tp99\tmax\t")
	for _, m := range r.Modes {
		for _, mt := range m.Metrics {
			s := mt.Summary
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t\n",
				m.Name, mt.Name, s.Count, seconds(s.Min), seconds(s.P50), seconds(s.P90), seconds(s.P99), seconds(s.Max))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	for _, m := range r.Modes {
		if len(m.Failures) > 0 {
			fmt.Fprintf(w, "\n%s: %d failed runs:\n", m.Name, len(m.Failures))
			for _, f := range m.Failures {
				// The full error with the run's output is in results.json.
				first, _, _ := strings.Cut(f, "\n")
				fmt.Fprintf(w, "  %s\n", first)
			}
		}
	}

	fmt.Fprintln(w)
	if r.Ratios != nil {
		fmt.Fprintf(w, "cold/bare: p50 %.2f, p90 %.2f (target at most %.2f)\n", r.Ratios.ColdBareP50, r.Ratios.ColdBareP90, r.Ratios.Target)
		if r.Ratios.ShimBareP50 > 0 {
			fmt.Fprintf(w, "cold from the shim's Create/bare: p50 %.2f, p90 %.2f\n", r.Ratios.ShimBareP50, r.Ratios.ShimBareP90)
		}
	}
	if sh := r.Memory.Shim; sh != nil {
		fmt.Fprintf(w, "shim RSS: %.1f MiB, peak %.1f MiB (target at most %.0f MiB)\n", mib(sh.RSSKiB), mib(sh.HWMKiB), mib(TargetShimRSSKiB))
	}
	if q := r.Memory.SandboxQEMU; q != nil {
		fmt.Fprintf(w, "sandbox QEMU RSS: %.1f MiB, peak %.1f MiB\n", mib(q.RSSKiB), mib(q.HWMKiB))
	}
	if r.Memory.BareQEMURSSKiB > 0 {
		fmt.Fprintf(w, "bare QEMU RSS at agent-ready: max %.1f MiB\n", mib(r.Memory.BareQEMURSSKiB))
	}
	_, err := fmt.Fprintf(w, "host: %s, %d CPUs, %s; load %s at start, %s at end; %s; %s; accelerator %s, agent channel %s, shared fs %s\n",
		r.Host.Arch, r.Host.CPUs, r.Host.CPUModel, r.Host.LoadStart, r.Host.LoadEnd, r.Host.QEMU, r.Host.Containerd,
		r.Host.Accelerator, r.Host.Channel, r.Host.SharedFS)
	return err
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func mib(kib uint64) float64 { return float64(kib) / 1024 }

// WriteOutputs writes results.json, results.txt and one SVG plot per group
// of comparable distributions into dir, and returns the files written.
func WriteOutputs(dir string, r *Results) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the output directory: %w", err)
	}
	var written []string

	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "results.json")
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return nil, err
	}
	written = append(written, path)

	path = filepath.Join(dir, "results.txt")
	f, err := os.Create(path)
	if err != nil {
		return written, err
	}
	if err := errors.Join(WriteTable(f, r), f.Close()); err != nil {
		return written, err
	}
	written = append(written, path)

	for _, p := range plots(r) {
		path := filepath.Join(dir, p.file)
		if err := writePlot(path, p.cdf); err != nil {
			if errors.Is(err, plot.ErrNoData) {
				continue
			}
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

type namedPlot struct {
	file string
	cdf  plot.CDF
}

// plots groups the distributions: the cold start against its floor, and the
// warm exec.
func plots(r *Results) []namedPlot {
	series := func(mode, metric, label string) []plot.Series {
		m := r.mode(mode)
		if m == nil {
			return nil
		}
		mt := m.metric(metric)
		if mt == nil {
			return nil
		}
		samples, dropped := positive(mt.Samples)
		if len(samples) == 0 {
			return nil
		}
		if dropped > 0 {
			// A process age under the 10 ms tick reads as zero, which a
			// logarithmic axis cannot show; the table keeps those samples.
			label += fmt.Sprintf(", %d zero samples left out", dropped)
		}
		return []plot.Series{{Name: label, Samples: samples}}
	}

	var cold []plot.Series
	cold = append(cold, series("bare", metricAgentReady, "bare boot: agent ready")...)
	cold = append(cold, series("cold", metricFirstOutput, "cold: first output (client)")...)
	cold = append(cold, series("cold", metricShimOutput, "cold: shim Create to first output")...)
	cold = append(cold, series("cold", metricExit, "cold: ctr exit, teardown included")...)
	cold = append(cold, series("cold", metricUptime, "cold: guest uptime at output")...)

	var warm []plot.Series
	warm = append(warm, series("warm", metricFirstOutput, "warm: first output (client)")...)
	warm = append(warm, series("warm", metricExit, "warm: ctr exit")...)
	warm = append(warm, series("warm", metricAge, "warm: process age at output (guest)")...)

	return []namedPlot{
		{"cold-start.svg", plot.CDF{Title: "Sandbox cold start and bare QEMU boot: " + r.Host.Accelerator + ", " + r.Host.Arch, Series: cold}},
		{"warm-exec.svg", plot.CDF{Title: "Exec into a running sandbox: " + r.Host.Accelerator + ", " + r.Host.Arch, Series: warm}},
	}
}

// positive returns the samples above zero and the number left out.
func positive(samples []time.Duration) ([]time.Duration, int) {
	var out []time.Duration
	for _, d := range samples {
		if d > 0 {
			out = append(out, d)
		}
	}
	return out, len(samples) - len(out)
}

func writePlot(path string, c plot.CDF) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.WriteSVG(f); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Close()
}
