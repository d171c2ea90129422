package env

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
)

// NOTE: a minimal reader of the first hart's isa, mmu, uarch, marchid and
// mvendorid lines. The full cpuinfo and ISA parser belongs in
// virtcontainers/pkg/riscv, and this file should switch to it.

// vendorNames maps mvendorid (a JEDEC manufacturer ID) to a name.
var vendorNames = map[string]string{
	"0x0":   "unknown (0x0, as QEMU reports)",
	"0x489": "SiFive",
	"0x5b7": "T-Head",
	"0x710": "SpacemiT",
	"0x31e": "Andes",
}

// cpu reads /proc/cpuinfo. Vendor is the mvendorid's name; Model is the uarch
// line, else marchid, else the "model name" line vendor kernels add (and
// other architectures print).
func (h host) cpu() (CPUInfo, error) {
	data, err := os.ReadFile(h.path("/proc/cpuinfo"))
	if err != nil {
		return CPUInfo{CPUs: goruntime.NumCPU()}, err
	}
	harts := parseCPUInfoBlocks(data)
	if len(harts) == 0 {
		return CPUInfo{CPUs: goruntime.NumCPU()}, fmt.Errorf("no hart found in %s", h.path("/proc/cpuinfo"))
	}

	first := harts[0]
	c := CPUInfo{
		CPUs: len(harts),
		ISA:  first["isa"],
		MMU:  first["mmu"],
	}
	if v := first["mvendorid"]; v != "" {
		c.Vendor = v
		if name, ok := vendorNames[strings.ToLower(v)]; ok {
			c.Vendor = name
		}
	} else {
		// Other architectures, for a report run on a build host.
		c.Vendor = first["vendor_id"]
	}
	for _, k := range []string{"uarch", "marchid", "model name"} {
		if v := first[k]; v != "" {
			c.Model = v
			break
		}
	}
	c.HExtension = hasHypervisorExtension(c.ISA)
	return c, nil
}

// parseCPUInfoBlocks splits /proc/cpuinfo into blocks of lowercased keys. A
// block is a hart when it has a processor, hart or isa line. A repeated key
// starts a new block, so that text without blank lines still splits.
func parseCPUInfoBlocks(data []byte) []map[string]string {
	var harts []map[string]string
	block := map[string]string{}
	flush := func() {
		for _, k := range []string{"processor", "hart", "isa"} {
			if _, ok := block[k]; ok {
				harts = append(harts, block)
				break
			}
		}
		block = map[string]string{}
	}

	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			flush()
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if _, seen := block[key]; seen {
			flush()
		}
		block[key] = strings.TrimSpace(value)
	}
	flush()
	return harts
}

// hasHypervisorExtension reports whether the single-letter part of a riscv64
// ISA string (between "rv64" and the first "_") has the letter h. Multi-letter
// extensions such as zihpm or xtheadvector contain an h and do not count, nor
// does the p of a version number such as the one in "i2p1".
func hasHypervisorExtension(isa string) bool {
	isa = strings.ToLower(strings.TrimSpace(isa))
	base, ok := strings.CutPrefix(isa, "rv64")
	if !ok {
		return false
	}
	base, _, _ = strings.Cut(base, "_")
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c == 'p' && i > 0 && isDigit(base[i-1]) && i+1 < len(base) && isDigit(base[i+1]) {
			continue
		}
		if c == 'z' || c == 'x' {
			return false // a multi-letter extension without its "_" separator
		}
		if c == 'h' {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
