package virtcontainers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

// probeTimeout bounds each QEMU run of the prober. A probe run exits during
// option parsing, in about 0.1 s on an idle x86 host, but inside the
// emulated riscv64 host four concurrent runs took over 10 s.
const probeTimeout = 60 * time.Second

// ExecQEMUProber reads a QEMU binary's features by running it with options
// that print and exit. Results are cached per binary path, size and
// modification time, so a package upgrade is seen.
type ExecQEMUProber struct {
	mu    sync.Mutex // guards cache
	cache map[probeKey]QEMUFeatures
}

type probeKey struct {
	path    string
	size    int64
	modTime time.Time
}

// NewExecQEMUProber returns a prober with an empty cache.
func NewExecQEMUProber() *ExecQEMUProber {
	return &ExecQEMUProber{cache: map[probeKey]QEMUFeatures{}}
}

// ProbeQEMU implements QEMUProber.
func (p *ExecQEMUProber) ProbeQEMU(path string) (QEMUFeatures, error) {
	info, err := os.Stat(path)
	if err != nil {
		return QEMUFeatures{}, fmt.Errorf("QEMU binary %s: %w; install qemu-system-riscv64 (Debian package qemu-system-misc) or set path in [hypervisor.qemu]", path, err)
	}
	key := probeKey{path: path, size: info.Size(), modTime: info.ModTime()}

	p.mu.Lock()
	f, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return f, nil
	}

	f, err = probeQEMU(path)
	if err != nil {
		return QEMUFeatures{}, err
	}

	p.mu.Lock()
	p.cache[key] = f
	p.mu.Unlock()
	return f, nil
}

// probeQEMU runs the probes concurrently: each is a QEMU start-up of about
// 0.1 s, which a VM start would otherwise pay several times in a row.
func probeQEMU(path string) (QEMUFeatures, error) {
	probes := [][]string{
		{"-version"},
		{"-machine", "virt,help"},
		{"-accel", "help"},
		// A build without seccomp has no "sandbox" option group and exits
		// with an error before it reaches -version.
		{"-sandbox", "on", "-version"},
	}
	outputs := make([]string, len(probes))
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	for i, args := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outputs[i], errs[i] = runProbe(path, args...)
		}()
	}
	wg.Wait()

	var f QEMUFeatures
	for _, err := range errs[:3] {
		if err != nil {
			return f, err
		}
	}

	var err error
	if f.Version, err = parseQEMUVersion(outputs[0]); err != nil {
		return f, fmt.Errorf("QEMU binary %s: %w", path, err)
	}
	f.AIAModes = parseAIAModes(outputs[1])
	f.Accelerators = parseAccelerators(outputs[2])
	f.Seccomp = errs[3] == nil
	return f, nil
}

func runProbe(path string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()

	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %s %s: %w: %s", path, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func parseQEMUVersion(out string) (QEMUVersion, error) {
	v, err := qemucaps.ParseVersion(out)
	if err != nil {
		return QEMUVersion{}, fmt.Errorf("-version output %q: %w", strings.TrimSpace(out), err)
	}
	return v, nil
}

// parseAIAModes keeps the aia= values of "-machine virt,help" that the
// backend knows.
func parseAIAModes(out string) []AIAMode {
	var modes []AIAMode
	for _, value := range qemucaps.ParseAIAModes(out) {
		switch mode := AIAMode(value); mode {
		case AIANone, AIAAPLIC, AIAAPLICIMSIC:
			modes = append(modes, mode)
		}
	}
	return modes
}

// parseAccelerators reads "-accel help": a header line, then one
// accelerator name a line.
func parseAccelerators(out string) []Accelerator {
	var accels []Accelerator
	for _, line := range strings.Split(out, "\n") {
		switch name := Accelerator(strings.TrimSpace(line)); name {
		case AccelKVM, AccelTCG:
			accels = append(accels, name)
		}
	}
	return accels
}
