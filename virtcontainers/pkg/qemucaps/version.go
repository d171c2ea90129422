// Package qemucaps probes a qemu-system-riscv64 binary for what the QEMU
// backend and the host checker need to know before they start a VM: its
// version, the AIA modes of its virt machine and whether it has seccomp.
//
// It imports nothing from virtcontainers, so that the QEMU backend there can
// import it.
package qemucaps

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Version is a QEMU release number.
type Version struct {
	Major, Minor, Micro int
}

// MinVersion is the oldest QEMU this runtime supports on riscv64. QEMU 7.0 is
// the first release with KVM acceleration for RISC-V (the "Add riscv kvm accel
// support" series, merged in February 2022) and with the virt machine's aia=
// property, so an older QEMU can only emulate guests with TCG.
var MinVersion = Version{7, 0, 0}

// KVMAIAVersion is the first QEMU that backs the virt machine's AIA with the
// host kernel's in-kernel AIA irqchip under KVM (commit 48c2c33c52cd, "select
// KVM AIA in riscv virt machine", in QEMU 8.2).
var KVMAIAVersion = Version{8, 2, 0}

// ErrNoVersion reports --version output without a QEMU version line.
var ErrNoVersion = errors.New("no \"QEMU emulator version\" line in the output")

var versionRE = regexp.MustCompile(`QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the version from `qemu-system-riscv64 --version` output,
// such as "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".
// A missing micro number is 0.
func ParseVersion(output string) (Version, error) {
	m := versionRE.FindStringSubmatch(output)
	if m == nil {
		return Version{}, ErrNoVersion
	}
	var v Version
	var err error
	if v.Major, err = strconv.Atoi(m[1]); err != nil {
		return Version{}, fmt.Errorf("invalid major version %q: %w", m[1], err)
	}
	if v.Minor, err = strconv.Atoi(m[2]); err != nil {
		return Version{}, fmt.Errorf("invalid minor version %q: %w", m[2], err)
	}
	if m[3] != "" {
		if v.Micro, err = strconv.Atoi(m[3]); err != nil {
			return Version{}, fmt.Errorf("invalid micro version %q: %w", m[3], err)
		}
	}
	return v, nil
}

// Less reports whether v is an older release than o.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	return v.Micro < o.Micro
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Micro)
}
