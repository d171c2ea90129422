package apt

import (
	"reflect"
	"slices"
	"testing"
)

func TestParseDepends(t *testing.T) {
	tests := []struct {
		name   string
		record string
		want   []string
	}{
		{
			name:   "debian metapackage",
			record: "Package: linux-image-riscv64\nVersion: 6.12.117-1\nDepends: linux-image-6.12.117+deb13-riscv64 (= 6.12.117-1)\nDescription: Linux\n",
			want:   []string{"linux-image-6.12.117+deb13-riscv64"},
		},
		{
			name:   "alternatives and pre-depends",
			record: "Pre-Depends: linux-base (>= 4.12~)\nDepends: kmod, initramfs-tools (>= 0.120) | linux-initramfs-tool\n",
			want:   []string{"linux-base", "kmod", "initramfs-tools"},
		},
		{
			name:   "arch qualifier",
			record: "Depends: libc6:riscv64 (>= 2.36)\n",
			want:   []string{"libc6"},
		},
		{name: "no depends", record: "Package: base-files\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseDepends([]byte(tt.record)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseDepends() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOptionsUsePrivateState(t *testing.T) {
	a := &Apt{Dir: "/cache/apt/debian", Arch: "riscv64"}
	opts := a.Options()
	for _, want := range []string{
		"Dir::State=/cache/apt/debian/state",
		"Dir::Etc::SourceList=/cache/apt/debian/sources.list",
		"APT::Architecture=riscv64",
	} {
		if !slices.Contains(opts, want) {
			t.Errorf("Options() = %q, missing %q", opts, want)
		}
	}
}

func TestSourceLine(t *testing.T) {
	s := Source{Mirror: "http://deb.debian.org/debian", Suite: "trixie", Components: []string{"main"},
		Keyring: "/usr/share/keyrings/debian-archive-keyring.gpg"}
	want := "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main"
	if got := s.Line("riscv64"); got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}
