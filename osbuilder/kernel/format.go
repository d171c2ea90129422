// Package kernel fetches a distribution's riscv64 kernel, puts it in the
// forms QEMU and Firecracker boot, and selects the modules a sandbox needs.
package kernel

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/riscv"
)

// Format is the layout a distribution shipped its kernel in, for reports.
type Format string

const (
	// FormatImage is the riscv64 boot Image, which QEMU's -kernel and
	// Firecracker load as it is. Distribution kernels add a PE header for
	// the EFI stub, and the layout is the same.
	FormatImage Format = "Image"
	// FormatGzipImage is a gzip-compressed Image (vmlinuz on some distributions).
	FormatGzipImage Format = "Image.gz"
)

// WriteImage writes the kernel at src to dst as an uncompressed Image, the
// one form both QEMU and Firecracker load. A gzip-compressed Image is
// decompressed. Any other format, an ELF vmlinux included, is an error.
func WriteImage(src, dst string) (Format, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	info, err := riscv.DetectKernel(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}

	format := FormatImage
	switch {
	case info.Format == riscv.KernelImage:
	case info.Format == riscv.KernelCompressed && info.Compression == "gzip":
		format = FormatGzipImage
		if data, err = gunzip(data); err != nil {
			return format, fmt.Errorf("decompressing %s: %w", src, err)
		}
		if inner, err := riscv.DetectKernel(bytes.NewReader(data)); err != nil || inner.Format != riscv.KernelImage {
			return format, fmt.Errorf("%s decompressed to something that is not a riscv64 Image (%s)", src, inner.Detail)
		}
	case info.Format == riscv.KernelELF:
		return "", fmt.Errorf("%s is an ELF vmlinux (%s): Firecracker needs the flat Image (arch/riscv/boot/Image)", src, info.Detail)
	default:
		return "", fmt.Errorf("%s is not a riscv64 Image or a gzip-compressed one: %s", src, info.Detail)
	}

	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return format, err
	}
	return format, nil
}

func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
