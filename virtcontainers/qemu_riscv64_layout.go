package virtcontainers

// Guest physical memory map and device layout of QEMU's riscv64 virt
// machine, as the QEMU backend configures it.
//
// Source: the virt_memmap table in QEMU's hw/riscv/virt.c. The values below
// were checked against the device tree that qemu-system-riscv64 7.2.22
// (Debian 12) generates with "-machine virt,dumpdtb=FILE -m 2048M -smp 1",
// with and without aia=aplic-imsic. The integration test
// TestVirtDeviceTreeLayout repeats that check.
//
//	0x0_0000_0000 +---------------------------+
//	              | debug, MROM (reset vector) |
//	0x0_0010_0000 | test (sifive_test: poweroff, reset)      0x1000
//	0x0_0010_1000 | rtc (goldfish)            IRQ 11          0x1000
//	0x0_0200_0000 | CLINT (timer, IPIs; M-mode) 0x10000
//	0x0_0300_0000 | PCIe I/O ports            0x10000
//	0x0_0400_0000 | platform bus              0x2000000
//	0x0_0c00_0000 | PLIC                      0x600000 (1 hart)
//	              |   or APLIC M-level        0x8000   (aia=aplic*)
//	0x0_0d00_0000 |   APLIC S-level           0x8000   (aia=aplic*)
//	0x0_1000_0000 | UART0 ns16550a (ttyS0)    IRQ 10   0x100
//	0x0_1000_1000 | virtio-mmio slot 0        IRQ 1    0x1000
//	      ...     |   ... 8 slots, 0x1000 apart, IRQ 1..8
//	0x0_1000_8000 | virtio-mmio slot 7        IRQ 8    0x1000
//	0x0_1010_0000 | fw_cfg                    0x18
//	0x0_2000_0000 | pflash 0 and 1            2 x 0x2000000
//	0x0_2400_0000 | IMSIC M-level             (aia=aplic-imsic)
//	0x0_2800_0000 | IMSIC S-level             (aia=aplic-imsic)
//	0x0_3000_0000 | PCIe ECAM (buses 0..255)  0x10000000
//	0x0_4000_0000 | PCIe 32-bit MMIO window   0x40000000
//	0x0_8000_0000 | RAM (-m), OpenSBI first under TCG, then the kernel
//	              |   ... 2 GiB for -m 2048M
//	0x4_0000_0000 | PCIe 64-bit MMIO window   0x4_0000_0000
//	              +---------------------------+
//
// PCIe: one host bridge (gpex, bus pcie.0) with legacy INTx on IRQs 32-35
// through the PLIC or APLIC, and MSIs only with aia=aplic-imsic. The backend
// puts its pcie-root-ports at slots firstRootPortPCISlot (0x10) upwards on
// pcie.0, with one hot-pluggable device below each. Other devices take free
// slots from 1 on.
//
// What the machine lacks, and what the backend therefore rejects: ACPI (no
// CPU or memory hot-plug, no power button, so system_powerdown does
// nothing), NVDIMM, and a vIOMMU for guests.

// Addresses of the virt machine that the backend relies on.
const (
	virtRAMBase        = 0x8000_0000
	virtUART0Base      = 0x1000_0000
	virtVirtioMMIOBase = 0x1000_1000
	virtVirtioMMIOSize = 0x1000
	virtVirtioMMIOs    = 8
	virtPCIeECAMBase   = 0x3000_0000
	virtPLICBase       = 0x0c00_0000
)
