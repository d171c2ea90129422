package riscv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxCPUInfoSize bounds how much of /proc/cpuinfo ParseCPUInfo reads. A
// 1,024-hart host with long ISA strings prints well under 2 MiB.
const MaxCPUInfoSize = 16 << 20

// ErrNoHarts reports /proc/cpuinfo text without a single hart block.
var ErrNoHarts = errors.New("no hart found in /proc/cpuinfo")

// Hart is one block of /proc/cpuinfo. Fields are empty when the kernel did
// not print the line: older kernels omit processor, mmu, uarch and the machine
// ID registers, and a kernel without MMU support prints no mmu line.
type Hart struct {
	// Processor is the Linux CPU number, or -1 without a processor line.
	Processor int
	// HartID is the hart's hardware ID, or -1 without a hart line. It often
	// differs from Processor ("processor 0" may be hart 3).
	HartID int
	// ISA is the isa line: since Linux 6.6 the extensions common to all
	// harts, before that this hart's own. HartISA is the hart isa line that
	// newer kernels add for this hart alone.
	ISA     string
	HartISA string
	// MMU is the virtual memory scheme, such as sv39 or sv48.
	MMU string
	// UArch is the devicetree compatible of the core, such as "sifive,u74-mc".
	UArch string
	// MVendorID, MArchID and MImpID are the machine ID CSRs as printed ("0x489").
	MVendorID string
	MArchID   string
	MImpID    string
	// ModelName is the "model name" line some vendor kernels add.
	ModelName string
	// Other holds every other key of the block, such as a vendor kernel's
	// cpu-freq, or the vendor_id and flags of a non-RISC-V /proc/cpuinfo.
	Other map[string]string
}

// CPUInfo is a parsed /proc/cpuinfo.
type CPUInfo struct {
	Harts []Hart
}

// ParseCPUInfo reads /proc/cpuinfo text. It accepts every layout seen on
// riscv64 kernels: tabs or spaces before the colon, missing lines, trailing
// spaces, blank lines or none between blocks, and no final newline. A key
// that repeats within a block starts a new block, so text without blank lines
// still splits into harts. It fails when reading fails, when the text is
// larger than MaxCPUInfoSize, or when it has no hart block.
func ParseCPUInfo(r io.Reader) (*CPUInfo, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCPUInfoSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading /proc/cpuinfo: %w", err)
	}
	if len(data) > MaxCPUInfoSize {
		return nil, fmt.Errorf("/proc/cpuinfo is larger than %d bytes; a file this large is not a kernel's cpuinfo", MaxCPUInfoSize)
	}

	var info CPUInfo
	block := map[string]string{}
	flush := func() {
		if h, ok := hartFromBlock(block); ok {
			info.Harts = append(info.Harts, h)
		}
		block = map[string]string{}
	}

	for _, line := range bytes.Split(data, []byte{'\n'}) {
		text := strings.TrimSpace(string(line))
		if text == "" {
			flush()
			continue
		}
		key, value, ok := strings.Cut(text, ":")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		value = strings.TrimSpace(value)
		if key == "" {
			continue
		}
		if _, seen := block[key]; seen {
			flush()
		}
		block[key] = value
	}
	flush()

	if len(info.Harts) == 0 {
		return nil, ErrNoHarts
	}
	return &info, nil
}

// hartFromBlock builds a Hart from one block's keys. A block counts as a hart
// when it has a processor, hart, isa or hart isa line.
func hartFromBlock(kv map[string]string) (Hart, bool) {
	_, hasProc := kv["processor"]
	_, hasHart := kv["hart"]
	_, hasISA := kv["isa"]
	_, hasHartISA := kv["hart isa"]
	if !hasProc && !hasHart && !hasISA && !hasHartISA {
		return Hart{}, false
	}

	h := Hart{
		Processor: parseIndex(kv["processor"]),
		HartID:    parseIndex(kv["hart"]),
		ISA:       kv["isa"],
		HartISA:   kv["hart isa"],
		MMU:       kv["mmu"],
		UArch:     kv["uarch"],
		MVendorID: kv["mvendorid"],
		MArchID:   kv["marchid"],
		MImpID:    kv["mimpid"],
		ModelName: kv["model name"],
	}
	for k, v := range kv {
		switch k {
		case "processor", "hart", "isa", "hart isa", "mmu", "uarch", "mvendorid", "marchid", "mimpid", "model name":
		default:
			if h.Other == nil {
				h.Other = map[string]string{}
			}
			h.Other[k] = v
		}
	}
	return h, true
}

func parseIndex(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
