package check

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// checkNestedHost reports whether this host is itself a VM. Kata then runs
// its VMs under nested virtualization, which works but is slower, so the
// result is at most Warn.
func (e *environment) checkNestedHost() Check {
	c := Check{Name: "nested host"}
	var signs []string

	for _, p := range []string{"/sys/firmware/devicetree/base/compatible", "/proc/device-tree/compatible"} {
		data, err := e.host.readFile(p)
		if err != nil {
			continue
		}
		compatible := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		c.detail("devicetree compatible", strings.Join(compatible, ", "))
		for _, s := range compatible {
			if s == "riscv-virtio" {
				signs = append(signs, "the devicetree is QEMU's virt machine (compatible \"riscv-virtio\")")
			}
		}
		break
	}

	if typ, err := e.host.readFile("/sys/hypervisor/type"); err == nil && len(bytes.TrimSpace(typ)) > 0 {
		signs = append(signs, fmt.Sprintf("/sys/hypervisor/type is %q", strings.TrimSpace(string(typ))))
	} else if entries, err := os.ReadDir(e.host.path("/sys/hypervisor")); err == nil && len(entries) > 0 {
		signs = append(signs, "/sys/hypervisor is populated")
	}

	if e.cpuErr == nil && qemuCPUIDs(e.cpu.VendorID, e.cpu.MArchID) {
		signs = append(signs, fmt.Sprintf("mvendorid is 0 and marchid is %s, as on QEMU's emulated CPUs", e.cpu.MArchID))
	}

	if len(signs) == 0 {
		c.Result = Pass
		c.Reason = "no sign of a hypervisor below this host"
		return c
	}
	c.Result = Warn
	c.Reason = "this host runs as a guest of another hypervisor: " + strings.Join(signs, "; ") +
		"; Kata's VMs will run under nested virtualization, which is slower"
	c.Fix = "nothing is required; for production, run Kata on bare-metal riscv64 hardware"
	return c
}

// qemuCPUIDs reports whether mvendorid and marchid look like QEMU's TCG CPU
// models: mvendorid 0, and marchid 0 or QEMU's version encoded as
// 0xMMmmuu (QEMU 7.2.22 reports 0x70216).
func qemuCPUIDs(mvendorid, marchid string) bool {
	vendor, err := strconv.ParseUint(strings.TrimPrefix(mvendorid, "0x"), 16, 64)
	if err != nil || vendor != 0 {
		return false
	}
	arch, err := strconv.ParseUint(strings.TrimPrefix(marchid, "0x"), 16, 64)
	if err != nil {
		return false
	}
	major := arch >> 16
	return arch == 0 || (arch < 1<<24 && major >= 2 && major <= 30)
}
