package riscv

import (
	"errors"
	"slices"
	"testing"
)

func TestParseISA(t *testing.T) {
	tests := []struct {
		in         string
		xlen       int
		letters    string
		hypervisor bool
		has        []string
		hasNot     []string
	}{
		{"rv64imafdch_zicsr_zifencei_sstc", 64, "imafdch", true, []string{"zicsr", "Sstc", "c"}, []string{"svpbmt"}},
		{"rv64imafdc_zicntr_zicsr_zifencei_zihpm_zba_zbb", 64, "imafdc", false, []string{"zihpm"}, []string{"h"}},
		{"rv64imafdc_zicsr_zihintpause_zihpm", 64, "imafdc", false, []string{"zihintpause"}, []string{"h"}},
		{"rv64imafdc_zicntr_zicsr_zifencei_zihpm_xtheadvector", 64, "imafdc", false, []string{"xtheadvector"}, []string{"h", "v"}},
		{"rv64imafdcvh_zicbom_ssaia", 64, "imafdcvh", true, []string{"v", "ssaia"}, nil},
		{"rv64imafdcvsu", 64, "imafdcvsu", false, []string{"v", "s", "u"}, []string{"h"}},
		{"rv64gch", 64, "imafdch", true, []string{"d"}, nil},
		{"rv64i2p1m2p0a2p1f2p2d2p2c2p0h1p0_zicsr2p0_zifencei2p0", 64, "imafdch", true, []string{"zicsr", "zifencei"}, nil},
		{"rv64i2p1_m2p0_a2p1_h1p0_zicsr2p0", 64, "imah", true, []string{"zicsr"}, nil},
		{"rv64imafdczicsr_zihpm", 64, "imafdc", false, []string{"zicsr", "zihpm"}, []string{"h"}},
		{"rv64imafdcsh", 64, "imafdc", false, []string{"sh"}, []string{"h"}},
		{"rv64imafdcp", 64, "imafdcp", false, []string{"p"}, []string{"h"}},
		{"rv64imafdc_zve32x_zvl128b", 64, "imafdc", false, []string{"zve32x", "zvl128b"}, nil},
		{"rv32imac", 32, "imac", false, nil, []string{"h"}},
		{"  RV64IMAFDCH_Zicsr  ", 64, "imafdch", true, []string{"zicsr"}, nil},
		{"rv64imafdch__zicsr_", 64, "imafdch", true, []string{"zicsr"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			isa, err := ParseISA(tt.in)
			if err != nil {
				t.Fatalf("ParseISA: %v", err)
			}
			if isa.XLEN != tt.xlen {
				t.Errorf("XLEN = %d, want %d", isa.XLEN, tt.xlen)
			}
			if isa.Letters != tt.letters {
				t.Errorf("Letters = %q, want %q", isa.Letters, tt.letters)
			}
			if isa.Hypervisor() != tt.hypervisor {
				t.Errorf("Hypervisor() = %v, want %v", isa.Hypervisor(), tt.hypervisor)
			}
			for _, e := range tt.has {
				if !isa.Has(e) {
					t.Errorf("Has(%q) = false, want true (extensions %v)", e, isa.Extensions)
				}
			}
			for _, e := range tt.hasNot {
				if isa.Has(e) {
					t.Errorf("Has(%q) = true, want false", e)
				}
			}
		})
	}
}

func TestParseISAErrors(t *testing.T) {
	for _, in := range []string{"", "rv", "rv63imafdc", "armv8-a", "rv64", "rv64_zicsr", "rv64zicsr", "rv64i-m", "rv64imac_9x", "rv64i_zi.csr", "x86_64"} {
		if isa, err := ParseISA(in); !errors.Is(err, ErrInvalidISA) {
			t.Errorf("ParseISA(%q) = %+v, %v; want an ErrInvalidISA error", in, isa, err)
		}
	}
}

func TestISAStringRoundTrip(t *testing.T) {
	for _, in := range []string{"rv64imafdch_zicsr_sstc", "rv64imafdcvsu", "rv64i_s_a"} {
		first, err := ParseISA(in)
		if err != nil {
			t.Fatalf("ParseISA(%q): %v", in, err)
		}
		second, err := ParseISA(first.String())
		if err != nil {
			t.Fatalf("ParseISA(%q) of String(): %v", first.String(), err)
		}
		if second.XLEN != first.XLEN || second.Letters != first.Letters || !slices.Equal(second.Extensions, first.Extensions) {
			t.Errorf("%q: String() = %q parses to %+v, want %+v", in, first.String(), second, first)
		}
	}
}

// FuzzParseISA checks that the parser never panics and that String() of a
// parsed ISA parses back to the same ISA.
func FuzzParseISA(f *testing.F) {
	for _, s := range []string{
		"rv64imafdch_zicsr_zifencei_sstc", "rv64imafdcvsu", "rv64gc", "rv64i2p1m2p0_h1p0_zicsr2p0",
		"rv64imafdc_zihpm_xtheadvector", "rv32e", "rv128i", "rv64imafdczicsr",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		isa, err := ParseISA(s)
		if err != nil {
			return
		}
		again, err := ParseISA(isa.String())
		if err != nil {
			t.Fatalf("String() %q of parsed %q does not parse: %v", isa.String(), s, err)
		}
		if again.XLEN != isa.XLEN || again.Letters != isa.Letters || !slices.Equal(again.Extensions, isa.Extensions) {
			t.Fatalf("%q -> %q -> %+v, want %+v", s, isa.String(), again, isa)
		}
	})
}
