package riscv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoISA reports a /proc/cpuinfo without any isa or hart isa line, which is
// what a non-RISC-V kernel prints (for example under qemu-user on x86_64).
var ErrNoISA = errors.New("no isa line in /proc/cpuinfo")

// VirtExtension is an ISA extension that changes how well KVM runs guests.
type VirtExtension struct {
	// Name is the extension as the ISA manual capitalizes it ("Sstc").
	Name string
	// Purpose is the gain for guests.
	Purpose string
}

// VirtExtensions returns the extensions besides H that the checker reports,
// in a fixed order.
func VirtExtensions() []VirtExtension {
	return []VirtExtension{
		{"Sstc", "guest timer interrupts without trapping to the host (KVM uses vstimecmp)"},
		{"Ssaia", "AIA in S-mode: guest interrupt files, so KVM can give guests IMSIC MSIs"},
		{"Smaia", "AIA in M-mode, which the host firmware uses to hand AIA to the kernel"},
		{"Svpbmt", "page-based memory types, needed for non-coherent DMA on some SoCs"},
		{"V", "the vector extension, which KVM 6.5 and later can expose to guests"},
		{"Sscofpmf", "counter overflow and mode filtering; KVM offers guests the SBI PMU only with it, and guest user space reads the time CSR only then"},
	}
}

// Summary is the host CPU as the checker and `kata-runtime env` report it.
type Summary struct {
	// Harts is the number of hart blocks in /proc/cpuinfo.
	Harts int
	// ISA is the first hart's ISA, which is the ISA common to all harts on
	// Linux 6.6 and later. ISAString is the line it came from.
	ISA       ISA
	ISAString string
	// Hypervisor is true when every hart's ISA has the H extension.
	// HypervisorHarts counts the harts that have it.
	Hypervisor      bool
	HypervisorHarts int
	// VendorID is the mvendorid line as printed, Vendor its name ("SiFive")
	// or "" when the line is missing.
	VendorID string
	Vendor   string
	// MArchID is the marchid line as printed.
	MArchID string
	// Model is the uarch line, else the marchid line, else the model name.
	Model     string
	ModelName string
	// MMU is the mmu line, "" when the kernel prints none (no MMU support).
	MMU string
	// Present and Missing split VirtExtensions by the first hart's ISA.
	Present []string
	Missing []string
}

// Summarize condenses the harts into one Summary. It returns the summary it
// could build together with ErrNoISA when no hart has an isa line, or with an
// ErrInvalidISA error for the first ISA string that does not parse.
func (c *CPUInfo) Summarize() (Summary, error) {
	s := Summary{Harts: len(c.Harts)}
	if len(c.Harts) == 0 {
		return s, ErrNoHarts
	}

	first := c.Harts[0]
	s.VendorID = first.MVendorID
	s.Vendor = VendorName(first.MVendorID)
	s.MArchID = first.MArchID
	s.ModelName = first.ModelName
	switch {
	case first.UArch != "":
		s.Model = first.UArch
	case first.MArchID != "":
		s.Model = first.MArchID
	default:
		s.Model = first.ModelName
	}
	s.MMU = first.MMU

	var firstErr error
	parsed := 0
	// Harts nearly always share one ISA line, so each distinct line is parsed once.
	seen := map[string]ISA{}
	for i, h := range c.Harts {
		line := h.ISA
		if line == "" {
			line = h.HartISA
		}
		if line == "" {
			continue
		}
		isa, ok := seen[line]
		var err error
		if !ok {
			isa, err = ParseISA(line)
			if err == nil {
				seen[line] = isa
			}
		}
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("hart block %d: %w", i, err)
			}
			continue
		}
		if parsed == 0 {
			s.ISA, s.ISAString = isa, line
		}
		parsed++
		if isa.Hypervisor() {
			s.HypervisorHarts++
		}
	}
	if parsed == 0 && firstErr == nil {
		return s, ErrNoISA
	}
	s.Hypervisor = parsed > 0 && firstErr == nil && s.HypervisorHarts == parsed

	if parsed > 0 {
		for _, e := range VirtExtensions() {
			if s.ISA.Has(e.Name) {
				s.Present = append(s.Present, e.Name)
			} else {
				s.Missing = append(s.Missing, e.Name)
			}
		}
	}
	return s, firstErr
}

// VendorName returns the JEDEC vendor behind an mvendorid value as
// /proc/cpuinfo prints it ("0x489"), "unknown (0xcd)" for an ID not in the
// list, and "" for an empty string.
//
// The value 0 means that the CSR is not implemented, as on QEMU's TCG CPU models.
func VendorName(mvendorid string) string {
	if mvendorid == "" {
		return ""
	}
	id, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(mvendorid), "0x"), 16, 64)
	if err != nil {
		return fmt.Sprintf("unknown (%s)", mvendorid)
	}
	switch id {
	case 0x0:
		return "unknown (0x0: not implemented, as on QEMU)"
	case 0x489:
		// SiFive's ID, which StarFive and ESWIN SoCs with SiFive cores also report.
		return "SiFive"
	case 0x5b7:
		return "T-Head"
	case 0x710:
		return "SpacemiT"
	case 0x31e:
		return "Andes"
	}
	return fmt.Sprintf("unknown (%s)", mvendorid)
}
