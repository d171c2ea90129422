package check

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/riscv"
)

func (e *environment) checkAssets() []Check {
	return []Check{e.checkKernel(), e.checkRootfs(), e.checkFirmware()}
}

func (e *environment) checkKernel() Check {
	hc := e.in.Hypervisor
	fc := e.hypervisorType() == vc.FirecrackerHypervisor
	section := fmt.Sprintf("[hypervisor.%s]", e.hypervisorType())
	c := Check{Name: "guest kernel"}
	if hc.KernelPath == "" {
		c.Result = Fail
		c.Reason = "no guest kernel is configured"
		c.Fix = "set kernel in " + section
		return c
	}
	c.detail("path", hc.KernelPath)

	info, err := riscv.DetectKernelFile(hc.KernelPath)
	if err != nil {
		c.Result = Fail
		c.Reason = "guest kernel " + describeFileError(hc.KernelPath, err)
		c.Fix = "install the guest kernel (a riscv64 Image) or correct kernel in " + section
		return c
	}
	c.detail("format", info.Detail)

	switch {
	case info.Format == riscv.KernelImage:
		c.Result = Pass
	case info.Format == riscv.KernelELF && !fc:
		c.Result = Pass
	case info.Format == riscv.KernelELF:
		c.Result = Fail
		c.Fix = "use the uncompressed riscv64 Image (arch/riscv/boot/Image), because Firecracker's riscv64 loader takes no ELF"
	case info.Format == riscv.KernelCompressed:
		c.Result = Fail
		c.Fix = "decompress it or use arch/riscv/boot/Image, because neither QEMU nor Firecracker decompresses riscv64 kernels"
	case info.Format == riscv.KernelOtherArch:
		c.Result = Fail
		c.Fix = "install a riscv64 guest kernel"
	case fc:
		c.Result = Fail
		c.Fix = "use the uncompressed riscv64 Image (arch/riscv/boot/Image)"
	default:
		c.Result = Warn
		c.Fix = "check that it is a riscv64 kernel: QEMU loads an unrecognised file as a raw image"
	}
	c.Reason = fmt.Sprintf("%s: %s", hc.KernelPath, info.Detail)
	return c
}

func (e *environment) checkRootfs() Check {
	hc := e.in.Hypervisor
	fc := e.hypervisorType() == vc.FirecrackerHypervisor
	section := fmt.Sprintf("[hypervisor.%s]", e.hypervisorType())
	c := Check{Name: "guest root filesystem"}

	switch {
	case hc.ImagePath != "" && hc.InitrdPath != "":
		c.Result = Fail
		c.Reason = fmt.Sprintf("both image (%s) and initrd (%s) are configured", hc.ImagePath, hc.InitrdPath)
		c.Fix = "keep one of image and initrd in " + section
		return c
	case hc.ImagePath == "" && hc.InitrdPath == "":
		c.Result = Fail
		c.Reason = "neither image nor initrd is configured"
		c.Fix = "set image (a disk image) or initrd in " + section
		return c
	case fc && hc.InitrdPath != "":
		c.Result = Fail
		c.Reason = fmt.Sprintf("initrd %s is configured, but the Firecracker backend boots from a disk image only", hc.InitrdPath)
		c.Fix = "set image instead of initrd in " + section
		return c
	}

	p, kind := hc.ImagePath, "image"
	if p == "" {
		p, kind = hc.InitrdPath, "initrd"
	}
	c.detail(kind, p)
	header, err := readHeader(p, 4096)
	if err != nil {
		c.Result = Fail
		c.Reason = fmt.Sprintf("guest %s %s", kind, describeFileError(p, err))
		c.Fix = fmt.Sprintf("build it with osbuilder or correct %s in %s", kind, section)
		return c
	}

	var format string
	if kind == "image" {
		format = diskFormat(header)
	} else {
		format = initrdFormat(header)
	}
	if format == "" {
		c.Result = Warn
		c.Reason = fmt.Sprintf("guest %s %s has no format this check recognises", kind, p)
		c.Fix = fmt.Sprintf("check that %s is a guest %s built by osbuilder", p, kind)
		return c
	}
	c.detail("format", format)
	c.Result = Pass
	c.Reason = fmt.Sprintf("%s %s: %s", kind, p, format)
	return c
}

func (e *environment) checkFirmware() Check {
	hc := e.in.Hypervisor
	c := Check{Name: "firmware"}
	fc := e.hypervisorType() == vc.FirecrackerHypervisor

	switch {
	case hc.FirmwarePath == "" && fc:
		c.Result = Pass
		c.Reason = "none configured; Firecracker boots the kernel directly"
		return c
	case hc.FirmwarePath == "" && e.tcg():
		c.Result = Pass
		c.Reason = "none configured; QEMU under TCG uses its default OpenSBI (-bios default)"
		return c
	case hc.FirmwarePath == "":
		c.Result = Pass
		c.Reason = "none configured; under KVM the host's SBI serves the guest (-bios none)"
		return c
	case fc:
		c.Result = Warn
		c.Reason = fmt.Sprintf("firmware %s is configured, but Firecracker takes none and ignores it", hc.FirmwarePath)
		c.Fix = "remove firmware from [hypervisor.firecracker]"
		return c
	case !e.tcg():
		c.Result = Fail
		c.Reason = fmt.Sprintf("firmware %s is configured, but QEMU rejects M-mode firmware such as OpenSBI under KVM", hc.FirmwarePath)
		c.Fix = "remove firmware from [hypervisor.qemu]; under KVM the host's SBI serves the guest"
		return c
	}

	c.detail("path", hc.FirmwarePath)
	header, err := readHeader(hc.FirmwarePath, 64)
	if err != nil {
		c.Result = Fail
		c.Reason = "firmware " + describeFileError(hc.FirmwarePath, err)
		c.Fix = "install OpenSBI (Debian package opensbi) or correct firmware in [hypervisor.qemu]"
		return c
	}
	if bytes.HasPrefix(header, []byte(elf.ELFMAG)) {
		if !isRISCV64ELF(hc.FirmwarePath) {
			c.Result = Fail
			c.Reason = fmt.Sprintf("firmware %s is an ELF file but not a 64-bit RISC-V one", hc.FirmwarePath)
			c.Fix = "use a riscv64 OpenSBI build, such as fw_dynamic.elf of the opensbi package"
			return c
		}
	}
	c.Result = Pass
	c.Reason = fmt.Sprintf("firmware %s for QEMU under TCG", hc.FirmwarePath)
	return c
}

// isRISCV64ELF reports whether path is a 64-bit RISC-V ELF file.
func isRISCV64ELF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }() // read-only, so a close error loses nothing
	return f.Machine == elf.EM_RISCV && f.Class == elf.ELFCLASS64
}

// readHeader reads the first n bytes of path (fewer when it is shorter) and
// fails for a missing file, a directory or an empty file.
func readHeader(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only, so a close error loses nothing
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (mode %s)", st.Mode())
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	if got == 0 {
		return nil, fmt.Errorf("the file is empty")
	}
	return buf[:got], nil
}

// diskFormat names the partition table or filesystem at the start of a disk
// image, or returns "".
func diskFormat(h []byte) string {
	switch {
	case len(h) >= 520 && bytes.Equal(h[512:520], []byte("EFI PART")):
		return "disk image with a GPT partition table"
	case len(h) >= 1082 && binary.LittleEndian.Uint16(h[1080:]) == 0xEF53:
		return "ext4 filesystem"
	case len(h) >= 1028 && binary.LittleEndian.Uint32(h[1024:]) == 0xE0F5E1E2:
		return "erofs filesystem"
	case bytes.HasPrefix(h, []byte("XFSB")):
		return "xfs filesystem"
	case len(h) >= 512 && h[510] == 0x55 && h[511] == 0xAA:
		return "disk image with an MBR partition table"
	}
	return ""
}

// initrdFormat names the cpio or compression format of an initrd, or returns "".
func initrdFormat(h []byte) string {
	if bytes.HasPrefix(h, []byte("070701")) || bytes.HasPrefix(h, []byte("070702")) {
		return "uncompressed cpio (newc)"
	}
	if c := riscv.Compression(h); c != "" {
		return c + "-compressed initramfs (the guest kernel must support " + c + ")"
	}
	return ""
}

// describeFileError phrases a failure to open or read path, without
// repeating the path that err already names.
func describeFileError(path string, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist"
	case errors.Is(err, fs.ErrPermission):
		return path + " cannot be read: permission denied"
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return fmt.Sprintf("%s: %s: %v", path, pathErr.Op, pathErr.Err)
	}
	return fmt.Sprintf("%s: %v", path, err)
}
