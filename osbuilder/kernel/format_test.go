package kernel

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeImage returns a buffer with a riscv64 Image header's magic fields.
func fakeImage() []byte {
	b := make([]byte, 256)
	copy(b, "MZ")
	copy(b[0x30:], "RISCV\x00\x00\x00")
	copy(b[0x38:], "RSC\x05")
	return b
}

func TestWriteImageFormats(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	if _, err := w.Write(fakeImage()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		src     []byte
		want    Format
		wantErr string
	}{
		{name: "Image with PE header", src: fakeImage(), want: FormatImage},
		{name: "gzip Image", src: gz.Bytes(), want: FormatGzipImage},
		{name: "ELF vmlinux", src: []byte("\x7fELF\x02\x01\x01"), wantErr: "ELF"},
		{name: "arm64 Image", src: append(make([]byte, 0x38), []byte("ARMd\x00\x00\x00\x00")...), wantErr: "arm64 Image"},
		{name: "short", src: []byte("MZ"), wantErr: "not a riscv64 Image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "vmlinuz")
			if err := os.WriteFile(src, tt.src, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := WriteImage(src, filepath.Join(dir, "out"))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("WriteImage() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteImage() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("WriteImage() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWriteImageDecompressesGzip(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	if _, err := w.Write(fakeImage()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(src, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "vmlinux.container")
	format, err := WriteImage(src, dst)
	if err != nil {
		t.Fatalf("WriteImage() error = %v", err)
	}
	if format != FormatGzipImage {
		t.Errorf("format = %q, want %q", format, FormatGzipImage)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, fakeImage()) {
		t.Error("written kernel is not the decompressed Image")
	}
}

func TestWriteImageRejectsELF(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(src, []byte("\x7fELF\x02\x01\x01\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteImage(src, filepath.Join(dir, "out")); err == nil {
		t.Error("WriteImage(ELF) error = nil, want an error naming the Image format")
	}
}
