package virtcontainers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// riscv64 facts of Firecracker's riscv64 port (an open upstream pull request;
// there is no released riscv64 Firecracker):
//   - it loads an uncompressed Image kernel through its PE loader and no
//     initrd; an ELF vmlinux does not load;
//   - block, net and vsock are virtio-mmio devices, and a ns16550a serial
//     port is added only when the kernel command line has console=;
//   - its APLIC declares riscv,num-sources = 10, so at most 10 devices can
//     have an interrupt;
//   - SendCtrlAltDel fails with 400, so the backend stops the VM with signals.

// riscv64InterruptSources is the APLIC's riscv,num-sources in the riscv64
// port of Firecracker.
const riscv64InterruptSources = 10

// The riscv64 Linux Image header (Documentation/arch/riscv/boot-image-header.rst):
// magic "RISCV\0\0\0" at 0x30 (deprecated but still written) and magic2
// "RSC\x05" at 0x38.
var (
	riscvImageMagic  = []byte("RISCV\x00\x00\x00")
	riscvImageMagic2 = []byte("RSC\x05")
)

type riscv64FCArch struct{}

var _ fcArch = riscv64FCArch{}

func newFCArch() fcArch { return riscv64FCArch{} }

func (riscv64FCArch) checkBootAssets(kernelPath, initrdPath string) error {
	if initrdPath != "" {
		return fmt.Errorf("initrd %s: Firecracker on riscv64 cannot load an initrd: set image in [hypervisor.firecracker] and remove initrd: %w",
			initrdPath, ErrNotSupported)
	}
	return checkRISCVImage(kernelPath)
}

// checkRISCVImage accepts an uncompressed riscv64 Image and rejects ELF and
// compressed kernels with an error that names the format found.
//
// TODO: switch to the kernel format detection of virtcontainers/pkg/riscv
// once that package exists.
func checkRISCVImage(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening guest kernel: %w", err)
	}
	defer f.Close()

	header := make([]byte, 0x40)
	n, err := io.ReadFull(f, header)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading guest kernel %s: %w", path, err)
	}
	// A compressed kernel can be shorter than the header, so detect the
	// format from whatever was read.
	short := n < len(header)
	header = header[:n]

	if !short && (bytes.Equal(header[0x38:0x3c], riscvImageMagic2) || bytes.Equal(header[0x30:0x38], riscvImageMagic)) {
		return nil
	}

	found := "an unknown format"
	switch {
	case bytes.HasPrefix(header, []byte("\x7fELF")):
		found = "an ELF vmlinux"
	case bytes.HasPrefix(header, []byte{0x1f, 0x8b}):
		found = "gzip-compressed"
	case bytes.HasPrefix(header, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		found = "zstd-compressed"
	case bytes.HasPrefix(header, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		found = "xz-compressed"
	case bytes.HasPrefix(header, []byte{0x5d, 0x00, 0x00}):
		found = "lzma-compressed"
	case bytes.HasPrefix(header, []byte{0x02, 0x21, 0x4c, 0x18}), bytes.HasPrefix(header, []byte{0x04, 0x22, 0x4d, 0x18}):
		found = "lz4-compressed"
	case bytes.HasPrefix(header, []byte("BZh")):
		found = "bzip2-compressed"
	case len(header) >= 8 && bytes.HasPrefix(header, []byte("MZ")) && bytes.Equal(header[4:8], []byte("zimg")):
		found = "an EFI zboot (compressed) image"
	case short:
		found = fmt.Sprintf("%d bytes long, shorter than a riscv64 Image header (64 bytes)", n)
	}
	return fmt.Errorf("guest kernel %s is %s: Firecracker on riscv64 boots only an uncompressed riscv64 Image (magic \"RSC\\x05\" at offset 0x38); use arch/riscv/boot/Image, or decompress the distribution's vmlinuz: %w",
		path, found, ErrNotSupported)
}

func (riscv64FCArch) kernelParams(p fcKernelParams) []string {
	var params []string
	if p.Debug {
		params = append(params, "console=ttyS0")
	} else {
		// Without console= the VMM adds no serial port; keep the 8250
		// driver from probing for one.
		params = append(params, "8250.nr_uarts=0")
	}
	params = append(params, "reboot=k", "panic=1", "pci=off", "net.ifnames=0")
	params = append(params, p.rootParams()...)
	return append(params, p.agentParams()...)
}

func (riscv64FCArch) interruptSources() int { return riscv64InterruptSources }

func (riscv64FCArch) hasSerial(debug bool) bool { return debug }
