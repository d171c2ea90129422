package riscv

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// KernelFormat is the container format of a guest kernel file.
type KernelFormat string

// Kernel formats that DetectKernel distinguishes.
const (
	// KernelImage is the riscv64 boot Image (arch/riscv/boot/Image), with or
	// without an EFI stub. QEMU and Firecracker both boot it.
	KernelImage KernelFormat = "Image"
	// KernelELF is an ELF file such as vmlinux. QEMU loads it, but Firecracker's
	// riscv64 loader takes an Image only.
	KernelELF KernelFormat = "ELF"
	// KernelCompressed is a compressed kernel (Image.gz and the like) or an
	// EFI zboot image (vmlinuz.efi). QEMU 7.2 (hw/riscv/boot.c) loads ELF,
	// U-Boot uImage or raw Image and does not decompress, so neither VMM can
	// boot it directly.
	KernelCompressed KernelFormat = "compressed"
	// KernelOtherArch is a kernel for another architecture (an arm64 Image,
	// an x86 bzImage, an ELF for another machine).
	KernelOtherArch KernelFormat = "other architecture"
	// KernelUnknown is anything else.
	KernelUnknown KernelFormat = "unknown"
)

// Offsets and magic numbers of the riscv64 Image header, documented in the
// Linux tree at Documentation/arch/riscv/boot-image-header.rst.
const (
	imageMagicOffset  = 0x30
	imageMagic2Offset = 0x38
	imageHeaderSize   = 0x40
)

var (
	imageMagic      = []byte("RISCV\x00\x00\x00")
	imageMagic2     = []byte("RSC\x05")
	arm64ImageMagic = []byte("ARM\x64") // at 0x38 of an arm64 Image
)

// compressionMagics lists the leading bytes of the compressors Linux's
// KBUILD targets use for kernels and initramfs images.
var compressionMagics = []struct {
	name  string
	magic []byte
}{
	{"gzip", []byte{0x1f, 0x8b}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"lz4", []byte{0x02, 0x21, 0x4c, 0x18}}, // legacy frame, as the kernel writes it
	{"lz4", []byte{0x04, 0x22, 0x4d, 0x18}},
	{"bzip2", []byte("BZh")},
	{"lzo", []byte{0x89, 'L', 'Z', 'O', 0x00}},
	{"lzma", []byte{0x5d, 0x00, 0x00}},
}

// Compression returns the compressor whose magic number starts header, or "".
func Compression(header []byte) string {
	for _, c := range compressionMagics {
		if bytes.HasPrefix(header, c.magic) {
			return c.name
		}
	}
	return ""
}

// KernelInfo describes a guest kernel file.
type KernelInfo struct {
	Format KernelFormat
	// Compression names the compressor of a KernelCompressed file. For an
	// EFI zboot image it is the payload's compressor from the zboot header.
	Compression string
	// EFIStub is true for an Image whose header starts with the PE "MZ"
	// signature, so UEFI firmware could also start it.
	EFIStub bool
	// Detail describes the finding for messages ("ELF for machine EM_X86_64").
	Detail string
}

// DetectKernelFile opens path and runs DetectKernel on it.
func DetectKernelFile(path string) (KernelInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return KernelInfo{}, fmt.Errorf("opening guest kernel: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only, so a close error loses nothing
	return DetectKernel(f)
}

// DetectKernel reads the header of a guest kernel and returns its format. It
// returns an error only when reading fails. A file too short for any header
// is KernelUnknown.
func DetectKernel(r io.ReaderAt) (KernelInfo, error) {
	hdr := make([]byte, 4096)
	n, err := r.ReadAt(hdr, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return KernelInfo{}, fmt.Errorf("reading the kernel header: %w", err)
	}
	hdr = hdr[:n]

	switch {
	case bytes.HasPrefix(hdr, []byte(elf.ELFMAG)):
		return detectELF(r)

	case len(hdr) >= 0x38 && bytes.HasPrefix(hdr, []byte("MZ\x00\x00zimg")):
		// The zboot header stores the payload's compressor as a NUL-terminated
		// string at 0x18 (drivers/firmware/efi/libstub/zboot-header.S).
		comp, _, _ := bytes.Cut(hdr[0x18:0x38], []byte{0})
		return KernelInfo{Format: KernelCompressed, Compression: string(comp),
			Detail: fmt.Sprintf("EFI zboot image with a %s payload", comp)}, nil

	case len(hdr) >= imageHeaderSize && bytes.Equal(hdr[imageMagicOffset:imageMagicOffset+8], imageMagic) &&
		bytes.Equal(hdr[imageMagic2Offset:imageMagic2Offset+4], imageMagic2):
		info := KernelInfo{Format: KernelImage, EFIStub: bytes.HasPrefix(hdr, []byte("MZ"))}
		info.Detail = fmt.Sprintf("riscv64 Image, header version %d.%d",
			binary.LittleEndian.Uint16(hdr[0x22:]), binary.LittleEndian.Uint16(hdr[0x20:]))
		return info, nil

	case len(hdr) >= imageHeaderSize && bytes.Equal(hdr[imageMagic2Offset:imageMagic2Offset+4], arm64ImageMagic):
		return KernelInfo{Format: KernelOtherArch, Detail: "arm64 Image"}, nil

	case len(hdr) >= 0x206 && bytes.Equal(hdr[0x202:0x206], []byte("HdrS")):
		return KernelInfo{Format: KernelOtherArch, Detail: "x86 bzImage"}, nil
	}

	if c := Compression(hdr); c != "" {
		return KernelInfo{Format: KernelCompressed, Compression: c, Detail: c + "-compressed data"}, nil
	}
	return KernelInfo{Format: KernelUnknown, Detail: "no riscv64 Image header, ELF header or compression magic"}, nil
}

func detectELF(r io.ReaderAt) (KernelInfo, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return KernelInfo{Format: KernelUnknown, Detail: fmt.Sprintf("damaged ELF header: %v", err)}, nil
	}
	if f.Machine != elf.EM_RISCV {
		return KernelInfo{Format: KernelOtherArch, Detail: "ELF for machine " + f.Machine.String()}, nil
	}
	if f.Class != elf.ELFCLASS64 {
		return KernelInfo{Format: KernelOtherArch, Detail: "32-bit RISC-V ELF"}, nil
	}
	return KernelInfo{Format: KernelELF, Detail: "64-bit RISC-V ELF"}, nil
}
