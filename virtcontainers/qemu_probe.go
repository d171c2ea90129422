package virtcontainers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

// probeTimeout bounds each QEMU run of the prober. A probe run exits during
// option parsing, in about 0.1 s on an idle x86 host, but inside the
// emulated riscv64 host four concurrent runs took over 10 s.
const probeTimeout = 60 * time.Second

// DefaultQEMUFeatureCacheDir keeps probe results across shim processes. A
// shim serves one sandbox, so without it every sandbox start would probe
// again. /run is cleared at boot, and an upgraded binary has a new size or
// modification time, which misses the cache.
const DefaultQEMUFeatureCacheDir = "/run/vc/cache/qemu-features"

// ExecQEMUProber reads a QEMU binary's features by running it with options
// that print and exit. Results are cached per binary path, size and
// modification time, in memory and, when a cache directory is set, in one
// JSON file per binary there.
type ExecQEMUProber struct {
	mu       sync.Mutex // guards cache
	cache    map[probeKey]QEMUFeatures
	cacheDir string
}

type probeKey struct {
	path    string
	size    int64
	modTime time.Time
}

// ProberOption configures an ExecQEMUProber.
type ProberOption func(*ExecQEMUProber)

// WithFeatureCacheDir keeps probe results as files in dir (created with mode
// 0700 when missing), so that other processes reuse them. A cache that
// cannot be read or written is skipped, and the binary is probed.
func WithFeatureCacheDir(dir string) ProberOption {
	return func(p *ExecQEMUProber) { p.cacheDir = dir }
}

// NewExecQEMUProber returns a prober with an empty in-memory cache.
func NewExecQEMUProber(opts ...ProberOption) *ExecQEMUProber {
	p := &ExecQEMUProber{cache: map[probeKey]QEMUFeatures{}}
	for _, opt := range opts {
		opt(p)
	}
	return p
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

	f, ok = p.readCacheFile(key)
	if !ok {
		f, err = probeQEMU(path)
		if err != nil {
			return QEMUFeatures{}, err
		}
		p.writeCacheFile(key, f)
	}

	p.mu.Lock()
	p.cache[key] = f
	p.mu.Unlock()
	return f, nil
}

// featureCacheEntry is the JSON form of one cached probe. The key fields are
// stored to tell a hit from a file left by another version of the binary.
type featureCacheEntry struct {
	Path            string       `json:"path"`
	Size            int64        `json:"size"`
	ModTimeUnixNano int64        `json:"mod_time_unix_nano"`
	Features        QEMUFeatures `json:"features"`
}

func (p *ExecQEMUProber) cacheFile(path string) string {
	sum := sha256.Sum256([]byte(path))
	return filepath.Join(p.cacheDir, hex.EncodeToString(sum[:8])+".json")
}

func (p *ExecQEMUProber) readCacheFile(key probeKey) (QEMUFeatures, bool) {
	if p.cacheDir == "" {
		return QEMUFeatures{}, false
	}
	data, err := os.ReadFile(p.cacheFile(key.path))
	if err != nil {
		return QEMUFeatures{}, false
	}
	var e featureCacheEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return QEMUFeatures{}, false
	}
	if e.Path != key.path || e.Size != key.size || e.ModTimeUnixNano != key.modTime.UnixNano() {
		return QEMUFeatures{}, false
	}
	return e.Features, true
}

// writeCacheFile stores f through a temporary file and a rename, so that a
// concurrent reader sees the old entry or the new one, never half of one.
func (p *ExecQEMUProber) writeCacheFile(key probeKey, f QEMUFeatures) {
	if p.cacheDir == "" {
		return
	}
	data, err := json.Marshal(featureCacheEntry{Path: key.path, Size: key.size, ModTimeUnixNano: key.modTime.UnixNano(), Features: f})
	if err != nil {
		return
	}
	if err := os.MkdirAll(p.cacheDir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(p.cacheDir, ".probe-*")
	if err != nil {
		return
	}
	_, writeErr := tmp.Write(data)
	closeErr := tmp.Close()
	if writeErr != nil || closeErr != nil || os.Rename(tmp.Name(), p.cacheFile(key.path)) != nil {
		_ = os.Remove(tmp.Name()) // best effort: the cache is optional
	}
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
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", fmt.Errorf("running %s %s: %w (no output on stderr); check that path in [hypervisor.qemu] names qemu-system-riscv64", path, strings.Join(args, " "), err)
		}
		return "", fmt.Errorf("running %s %s: %w: %s", path, strings.Join(args, " "), err, msg)
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
