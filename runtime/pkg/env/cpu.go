package env

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	goruntime "runtime"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/riscv"
)

// cpu reads /proc/cpuinfo through the riscv package, so that the report and
// kata-runtime check agree on vendor, model and H extension. On another
// architecture (a report run on a build host) it falls back to the x86-style
// vendor_id and model name lines.
func (h host) cpu() (CPUInfo, error) {
	fallback := CPUInfo{CPUs: goruntime.NumCPU(), Extensions: []string{}}

	data, err := os.ReadFile(h.path("/proc/cpuinfo"))
	if err != nil {
		return fallback, err
	}

	parsed, err := riscv.ParseCPUInfo(bytes.NewReader(data))
	if err != nil {
		return fallback, fmt.Errorf("parsing %s: %w", h.path("/proc/cpuinfo"), err)
	}

	sum, err := parsed.Summarize()
	c := CPUInfo{
		Vendor:     sum.Vendor,
		Model:      sum.Model,
		CPUs:       sum.Harts,
		ISA:        sum.ISAString,
		MMU:        sum.MMU,
		HExtension: sum.Hypervisor,
		Extensions: append([]string{}, sum.Present...),
	}
	if errors.Is(err, riscv.ErrNoISA) {
		first := parsed.Harts[0]
		c.Vendor = first.Other["vendor_id"]
		c.Model = first.ModelName
		return c, nil
	}
	return c, err
}
