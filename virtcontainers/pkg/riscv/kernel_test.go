package riscv

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// imageHeader builds the 64-byte riscv64 Image header that
// Documentation/arch/riscv/boot-image-header.rst specifies.
func imageHeader(efi bool) []byte {
	h := make([]byte, 4096)
	if efi {
		copy(h, "MZ")
	}
	h[0x20] = 2 // header version 0.2
	copy(h[0x30:], "RISCV\x00\x00\x00")
	copy(h[0x38:], "RSC\x05")
	return h
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDetectKernel(t *testing.T) {
	debianHead, err := os.ReadFile(filepath.Join("testdata", "debian-6.12.117-riscv64-Image.head"))
	if err != nil {
		t.Fatal(err)
	}
	zboot := make([]byte, 512)
	copy(zboot, "MZ\x00\x00zimg")
	copy(zboot[0x18:], "zstd\x00")
	arm64 := make([]byte, 512)
	copy(arm64[0x38:], "ARM\x64")
	bz := make([]byte, 1024)
	copy(bz[0x202:], "HdrS")

	tests := []struct {
		name        string
		data        []byte
		format      KernelFormat
		compression string
		efi         bool
	}{
		{"Debian 6.12 vmlinux (Image with EFI stub)", debianHead, KernelImage, "", true},
		{"Image without EFI stub", imageHeader(false), KernelImage, "", false},
		{"Image.gz", gzipped(t, imageHeader(false)), KernelCompressed, "gzip", false},
		{"Image.zst", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, make([]byte, 100)...), KernelCompressed, "zstd", false},
		{"Image.xz", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, make([]byte, 100)...), KernelCompressed, "xz", false},
		{"Image.lz4", append([]byte{0x02, 0x21, 0x4c, 0x18}, make([]byte, 100)...), KernelCompressed, "lz4", false},
		{"EFI zboot", zboot, KernelCompressed, "zstd", false},
		{"arm64 Image", arm64, KernelOtherArch, "", false},
		{"x86 bzImage", bz, KernelOtherArch, "", false},
		{"empty", nil, KernelUnknown, "", false},
		{"text", []byte("#!/bin/sh\necho hello\n"), KernelUnknown, "", false},
		{"truncated ELF", []byte("\x7fELF\x02\x01\x01"), KernelUnknown, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectKernel(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("DetectKernel: %v", err)
			}
			if got.Format != tt.format {
				t.Errorf("Format = %q, want %q (%s)", got.Format, tt.format, got.Detail)
			}
			if got.Compression != tt.compression {
				t.Errorf("Compression = %q, want %q", got.Compression, tt.compression)
			}
			if got.EFIStub != tt.efi {
				t.Errorf("EFIStub = %v, want %v", got.EFIStub, tt.efi)
			}
		})
	}
}

// TestDetectKernelELF uses the test binary itself: a 64-bit RISC-V ELF when
// the tests run as riscv64 binaries, another machine's ELF otherwise.
func TestDetectKernelELF(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	got, err := DetectKernelFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	want := KernelOtherArch
	if runtime.GOARCH == "riscv64" {
		want = KernelELF
	}
	if got.Format != want {
		t.Errorf("DetectKernelFile(%s) = %q (%s), want %q", exe, got.Format, got.Detail, want)
	}
}

func TestDetectKernelFileMissing(t *testing.T) {
	if _, err := DetectKernelFile(filepath.Join(t.TempDir(), "vmlinux")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DetectKernelFile of a missing file: %v, want a not-exist error", err)
	}
}

// FuzzDetectKernel feeds arbitrary file contents to DetectKernel, which the
// checker runs on whatever file the configuration names: it must not panic
// and must return one of the known formats.
func FuzzDetectKernel(f *testing.F) {
	head, err := os.ReadFile(filepath.Join("testdata", "debian-6.12.117-riscv64-Image.head"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(head)
	f.Add(imageHeader(false))
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xf3\x00"))
	f.Add([]byte("MZ\x00\x00zimg\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00gzip\x00"))

	known := map[KernelFormat]bool{KernelImage: true, KernelELF: true, KernelCompressed: true, KernelOtherArch: true, KernelUnknown: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := DetectKernel(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("DetectKernel on an in-memory reader: %v", err)
		}
		if !known[info.Format] {
			t.Fatalf("unknown format %q", info.Format)
		}
	})
}
