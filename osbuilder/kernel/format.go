// Package kernel fetches a distribution's riscv64 kernel, puts it in the
// forms QEMU and Firecracker boot, and selects the modules a sandbox needs.
package kernel

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// Format is a kernel file's layout.
type Format string

const (
	// FormatImage is the riscv64 boot Image (Documentation/arch/riscv/boot-image-header.rst):
	// "RISCV\0\0\0" at offset 0x30 and "RSC\x05" at 0x38. Distribution
	// kernels add a PE header for the EFI stub; the layout is the same.
	// QEMU's -kernel and Firecracker load it as it is.
	FormatImage Format = "Image"
	// FormatGzipImage is a gzip-compressed Image (vmlinuz on some distributions).
	FormatGzipImage Format = "Image.gz"
	// FormatELF is an ELF vmlinux, which QEMU boots but Firecracker does not.
	FormatELF Format = "ELF"
)

var (
	imageMagic  = []byte("RISCV\x00\x00\x00")
	imageMagic2 = []byte("RSC\x05")
)

// Detect returns the format of a kernel file's first bytes.
func Detect(head []byte) (Format, error) {
	switch {
	case len(head) >= 0x3c && bytes.Equal(head[0x30:0x38], imageMagic) && bytes.Equal(head[0x38:0x3c], imageMagic2):
		return FormatImage, nil
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return FormatGzipImage, nil
	case len(head) >= 4 && bytes.Equal(head[:4], []byte("\x7fELF")):
		return FormatELF, nil
	}
	return "", fmt.Errorf("not a riscv64 kernel: no Image magic at 0x30, no gzip or ELF header")
}

// WriteImage writes the kernel at src to dst as an uncompressed Image, the
// one form both QEMU and Firecracker load.
func WriteImage(src, dst string) (Format, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	format, err := Detect(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	switch format {
	case FormatELF:
		return format, fmt.Errorf("%s is an ELF vmlinux: Firecracker needs the flat Image (arch/riscv/boot/Image)", src)
	case FormatGzipImage:
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return format, fmt.Errorf("decompressing %s: %w", src, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return format, fmt.Errorf("decompressing %s: %w", src, err)
		}
		if f, err := Detect(data); err != nil || f != FormatImage {
			return format, fmt.Errorf("%s decompressed to something that is not a riscv64 Image", src)
		}
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return format, err
	}
	return format, nil
}
