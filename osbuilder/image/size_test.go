package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSize(t *testing.T) {
	tests := []struct {
		name  string
		usage Usage
		want  int64
	}{
		{name: "empty tree gets the minimum", usage: Usage{}, want: minImageSize},
		{name: "100 MiB of data", usage: Usage{DataBytes: 100 * mib, Inodes: 4096},
			// 100 MiB + 1 MiB of inodes = 101 MiB; +20% = 121.2 MiB; +8 MiB; rounded up.
			want: 130 * mib},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Size(tt.usage); got != tt.want {
				t.Errorf("Size(%+v) = %d MiB, want %d MiB", tt.usage, got/mib, tt.want/mib)
			}
		})
	}
}

func TestSizeCoversData(t *testing.T) {
	for _, data := range []int64{1, 10 * mib, 150 * mib, 2 << 30} {
		u := Usage{DataBytes: data, Inodes: data / 8192}
		if got := Size(u); got < data*6/5 || got%mib != 0 {
			t.Errorf("Size(%d bytes) = %d, want at least 120%% of the data in whole MiB", data, got)
		}
	}
}

func TestMeasure(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/big"), make([]byte, 10000), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "usr/bin/big"), filepath.Join(root, "usr/bin/big2")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("short", filepath.Join(root, "s")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("x", 80), filepath.Join(root, "l")); err != nil {
		t.Fatal(err)
	}

	got, err := Measure(root)
	if err != nil {
		t.Fatal(err)
	}
	// Entries: root, usr, usr/bin, big (its second name counted once), s, l.
	if got.Inodes != 6 {
		t.Errorf("Inodes = %d, want 6", got.Inodes)
	}
	// Three directories of one block, 10000 bytes in three blocks, one long symlink block.
	if want := int64(3*4096 + 3*4096 + 4096); got.DataBytes != want {
		t.Errorf("DataBytes = %d, want %d", got.DataBytes, want)
	}
}
