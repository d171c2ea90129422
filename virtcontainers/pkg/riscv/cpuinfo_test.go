package riscv

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtureDir contains /proc/cpuinfo text published from real riscv64
// systems. Its INDEX.md names the system behind each file.
const fixtureDir = "../../../tests/fixtures/cpuinfo"

type fixtureWant struct {
	hypervisor bool
	vendor     string
	model      string
	mmu        string
	harts      int
	present    []string
}

var fixtureWants = map[string]fixtureWant{
	"qemu-virt-6.14.0-rc1.txt":                      {true, "unknown (0x0: not implemented, as on QEMU)", "0x0", "sv39", 1, []string{"Sstc"}},
	"qemu-virt-5.15.43.txt":                         {true, "", "", "sv48", 1, []string{"Sstc"}},
	"eswin-eic7700x-hifive-premier-p550-6.6.21.txt": {true, "SiFive", "eswin,eic770x", "sv48", 4, []string{"Sscofpmf"}},
	"spacemit-k3-com260-6.18.3.txt":                 {true, "SpacemiT", "spacemit,x100", "sv39", 1, []string{"Sstc", "Ssaia", "Smaia", "Svpbmt", "V", "Sscofpmf"}},
	"starfive-visionfive2-jh7110-unknown.txt":       {false, "SiFive", "sifive,u74-mc", "sv39", 4, nil},
	"milkv-mars-jh7110-6.12.43.txt":                 {false, "SiFive", "sifive,u74-mc", "sv39", 4, nil},
	"starfive-jh7110-5.15.0.txt":                    {false, "", "sifive,u74-mc", "sv39", 4, nil},
	"sifive-hifive-unleashed-fu540-4.19.txt":        {false, "", "sifive,rocket0", "sv39", 4, nil},
	"milkv-pioneer-sg2042-6.1.18.txt":               {false, "T-Head", "0x0", "sv39", 2, []string{"V"}},
	"sipeed-licheepi4a-th1520-6.6.90.txt":           {false, "T-Head", "thead,c910", "sv39", 4, nil},
	"thead-th1520-5.10.113.txt":                     {false, "", "", "sv39", 4, []string{"V"}},
	"kendryte-k210-5.1.0-rc5.txt":                   {false, "", "", "", 2, nil},
	"qemu-kvm-guest-rv64-unknown.txt":               {false, "unknown (0xcd)", "0xab", "sv57", 1, []string{"Sstc"}},
	"bananapi-bpi-f3-k1-6.17.8.txt":                 {false, "SpacemiT", "spacemit,x60", "sv39", 1, []string{"Sstc", "Svpbmt", "V", "Sscofpmf"}},
	"allwinner-d1-6.5.0.txt":                        {false, "T-Head", "thead,c906", "sv39", 1, nil},
}

func TestCPUInfoFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cpuinfo fixtures under %s: %v", fixtureDir, err)
	}
	if len(files) != len(fixtureWants) {
		t.Errorf("%d fixture files, %d table rows: every file needs a row", len(files), len(fixtureWants))
	}

	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := fixtureWants[name]
			if !ok {
				t.Fatalf("fixture %s has no expected values in the table", name)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = f.Close() }()

			info, err := ParseCPUInfo(f)
			if err != nil {
				t.Fatalf("ParseCPUInfo: %v", err)
			}
			got, err := info.Summarize()
			if err != nil {
				t.Fatalf("Summarize: %v", err)
			}
			if got.Hypervisor != want.hypervisor {
				t.Errorf("Hypervisor = %v, want %v (isa %q)", got.Hypervisor, want.hypervisor, got.ISAString)
			}
			if got.Vendor != want.vendor {
				t.Errorf("Vendor = %q, want %q", got.Vendor, want.vendor)
			}
			if got.Model != want.model {
				t.Errorf("Model = %q, want %q", got.Model, want.model)
			}
			if got.MMU != want.mmu {
				t.Errorf("MMU = %q, want %q", got.MMU, want.mmu)
			}
			if got.Harts != want.harts {
				t.Errorf("Harts = %d, want %d", got.Harts, want.harts)
			}
			if !slices.Equal(got.Present, want.present) {
				t.Errorf("Present = %v, want %v", got.Present, want.present)
			}
		})
	}
}

// TestCPUInfoCapturedQEMU reads /proc/cpuinfo captured from a Debian 6.12
// kernel on QEMU 7.2's TCG rv64 CPU with H, which reports its version as
// marchid.
func TestCPUInfoCapturedQEMU(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir, "../cpuinfo-captured/qemu-7.2-tcg-rv64-h-debian-6.12.117.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	info, err := ParseCPUInfo(f)
	if err != nil {
		t.Fatal(err)
	}
	s, err := info.Summarize()
	if err != nil {
		t.Fatal(err)
	}
	if !s.Hypervisor || s.Harts != 2 || s.MMU != "sv57" || s.Model != "0x70216" || s.MArchID != "0x70216" {
		t.Errorf("summary = %+v, want H on 2 harts, sv57, marchid 0x70216", s)
	}
	if !slices.Equal(s.Present, []string{"Sstc"}) {
		t.Errorf("Present = %v, want [Sstc]", s.Present)
	}
}

func TestCPUInfoHartFields(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir, "starfive-visionfive2-jh7110-unknown.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	info, err := ParseCPUInfo(f)
	if err != nil {
		t.Fatal(err)
	}

	h := info.Harts[0]
	if h.Processor != 0 || h.HartID != 3 {
		t.Errorf("first block: processor %d hart %d, want processor 0 hart 3", h.Processor, h.HartID)
	}
	if h.MVendorID != "0x489" || h.MArchID != "0x8000000000000007" || h.MImpID != "0x4210427" {
		t.Errorf("machine IDs = %s %s %s, want 0x489 0x8000000000000007 0x4210427", h.MVendorID, h.MArchID, h.MImpID)
	}
	if h.HartISA != h.ISA {
		t.Errorf("hart isa %q differs from isa %q", h.HartISA, h.ISA)
	}
}

func TestCPUInfoVendorKeys(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir, "thead-th1520-5.10.113.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	info, err := ParseCPUInfo(f)
	if err != nil {
		t.Fatal(err)
	}

	if got := info.Harts[3].Other["cpu-vector"]; got != "0.7.1" {
		t.Errorf("cpu-vector of the last hart = %q, want 0.7.1", got)
	}
	if got := info.Harts[0].Other["cpu-tlb"]; got != "1024 4-ways" {
		t.Errorf("cpu-tlb = %q, want %q", got, "1024 4-ways")
	}
}

func TestParseCPUInfoLayouts(t *testing.T) {
	tests := []struct {
		name       string
		text       string
		harts      int
		hypervisor bool
		wantErr    error
	}{
		{"no blank lines between blocks", "processor : 0\nisa : rv64imafdch\nprocessor : 1\nisa : rv64imafdch\n", 2, true, nil},
		{"CRLF line ends", "processor\t: 0\r\nisa\t: rv64imafdch_zicsr\r\n", 1, true, nil},
		{"hart isa only", "processor : 0\nhart isa : rv64imafdch_sstc\n", 1, true, nil},
		{"one hart without H", "processor : 0\nisa : rv64imafdch\n\nprocessor : 1\nisa : rv64imafdc\n", 2, false, nil},
		{"upper case ISA", "processor : 0\nisa : RV64IMAFDCH_Zicsr\n", 1, true, nil},
		{"empty file", "", 0, false, ErrNoHarts},
		{"x86 cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme svm\n", 1, false, ErrNoISA},
		{"invalid isa", "processor : 0\nisa : armv8\n", 1, false, ErrInvalidISA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := ParseCPUInfo(strings.NewReader(tt.text))
			if err != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseCPUInfo error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			s, err := info.Summarize()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Summarize error = %v, want %v", err, tt.wantErr)
			}
			if s.Harts != tt.harts {
				t.Errorf("Harts = %d, want %d", s.Harts, tt.harts)
			}
			if s.Hypervisor != tt.hypervisor {
				t.Errorf("Hypervisor = %v, want %v", s.Hypervisor, tt.hypervisor)
			}
		})
	}
}

func TestParseCPUInfoTooLarge(t *testing.T) {
	big := strings.Repeat("x", MaxCPUInfoSize+1)
	if _, err := ParseCPUInfo(strings.NewReader(big)); err == nil {
		t.Fatal("ParseCPUInfo accepted more than MaxCPUInfoSize bytes")
	}
}

func TestVendorName(t *testing.T) {
	tests := map[string]string{
		"0x489":  "SiFive",
		"0x5b7":  "T-Head",
		"0x710":  "SpacemiT",
		"0x31e":  "Andes",
		"0x0":    "unknown (0x0: not implemented, as on QEMU)",
		"0xcd":   "unknown (0xcd)",
		"banana": "unknown (banana)",
		"":       "",
	}
	for in, want := range tests {
		if got := VendorName(in); got != want {
			t.Errorf("VendorName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseCPUInfo feeds arbitrary text to the parser. Invariants: no panic,
// at least one hart on success, and Hypervisor only when the reported ISA
// has the letter h.
func FuzzParseCPUInfo(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtureDir, "*.txt"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("isa : rv64i2p1m2p0a2p1f2p2d2p2c2p0h1p0_zicsr2p0\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ParseCPUInfo(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if len(info.Harts) == 0 {
			t.Fatal("ParseCPUInfo succeeded with no harts")
		}
		s, err := info.Summarize()
		if err != nil {
			return
		}
		if s.Hypervisor && !s.ISA.HasLetter('h') {
			t.Fatalf("Hypervisor is true but ISA %q has no h", s.ISA.Letters)
		}
	})
}

// BenchmarkParseCPUInfo64Harts parses a 64-hart /proc/cpuinfo built from the
// SpacemiT K3 block, whose ISA line has 57 multi-letter extensions.
func BenchmarkParseCPUInfo64Harts(b *testing.B) {
	block, err := os.ReadFile(filepath.Join(fixtureDir, "spacemit-k3-com260-6.18.3.txt"))
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat(string(block), 64)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		info, err := ParseCPUInfo(strings.NewReader(text))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := info.Summarize(); err != nil {
			b.Fatal(err)
		}
	}
}
