package kernel

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
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

func TestDetect(t *testing.T) {
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
		head    []byte
		want    Format
		wantErr bool
	}{
		{name: "Image with PE header", head: fakeImage(), want: FormatImage},
		{name: "gzip Image", head: gz.Bytes(), want: FormatGzipImage},
		{name: "ELF vmlinux", head: []byte("\x7fELF\x02\x01\x01"), want: FormatELF},
		{name: "arm64 Image", head: append(make([]byte, 0x38), []byte("ARMd")...), wantErr: true},
		{name: "short", head: []byte("MZ"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect(tt.head)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Detect() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Detect() = %q, want %q", got, tt.want)
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
