package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// vmConfig is one boot of the emulated host.
type vmConfig struct {
	QEMU  string // outer qemu-system-riscv64
	Image imageDir
	SMP   int
	Mem   string // QEMU -m syntax, such as 4G
	// CPUFlags override the properties of QEMU's rv64 CPU, such as h=false.
	CPUFlags map[string]string
	// AIA boots with APLIC and IMSIC, so that KVM inside can give its guests
	// AIA; it needs QEMU 10 or later.
	AIA bool
	// Net is "none" or "user" (QEMU user-mode networking, with no forwarded
	// ports, so nothing listens on the host).
	Net      string
	BuildDir string // shared read-only, tag "build"
	RunDir   string // shared read-write, tag "run"
	// RunID is passed on the kernel command line as hostvm.run, which starts
	// hostvm-run.service in the guest.
	RunID      string
	ConsoleLog string
}

// defaultCPUFlags give the emulated host the H extension and Sscofpmf. QEMU
// 7.2 already enables H for rv64, and naming it keeps that true for other
// versions. QEMU 7.2 and 10.0 leave Sscofpmf off in rv64.
//
// Nested guests need Sscofpmf to read the time CSR from user mode: KVM offers
// guests the SBI PMU only on hosts with it, and a guest kernel grants user
// mode the time CSR only in its SBI PMU driver. Without it, Go programs in
// nested guests die with SIGILL at their first rdtime.
var defaultCPUFlags = map[string]string{"h": "true", "sscofpmf": "true"}

var cpuFlagNameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// parseCPUFlags parses "h=false,sv57=on" into a map. Values are passed to
// QEMU as they are, and QEMU rejects names it does not know.
func parseCPUFlags(s string) (map[string]string, error) {
	flags := map[string]string{}
	if s == "" {
		return flags, nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("invalid CPU flag %q: want NAME=VALUE, such as h=false", kv)
		}
		if !cpuFlagNameRE.MatchString(name) {
			return nil, fmt.Errorf("invalid CPU flag name %q in %q: want a QEMU rv64 CPU property, such as h or sv57", name, kv)
		}
		flags[name] = value
	}
	return flags, nil
}

// cpuArg returns the -cpu value: rv64 with the default flags, the AIA
// extensions when requested and the user's flags last, sorted by name so
// that the command line is stable.
func cpuArg(cfg vmConfig) string {
	flags := map[string]string{}
	for k, v := range defaultCPUFlags {
		flags[k] = v
	}
	if cfg.AIA {
		flags["smaia"] = "true"
		flags["ssaia"] = "true"
	}
	for k, v := range cfg.CPUFlags {
		flags[k] = v
	}
	names := make([]string, 0, len(flags))
	for k := range flags {
		names = append(names, k)
	}
	sort.Strings(names)

	parts := []string{"rv64"}
	for _, k := range names {
		parts = append(parts, k+"="+flags[k])
	}
	return strings.Join(parts, ",")
}

// kernelCmdline is the command line of the emulated host's kernel.
func kernelCmdline(runID string) string {
	args := []string{
		"console=ttyS0", "root=/dev/vda", "rw",
		"systemd.unit=multi-user.target",
		// A kernel panic powers the machine off, because of -no-reboot,
		// instead of waiting for the timeout.
		"panic=-1",
	}
	if runID != "" {
		args = append(args, "hostvm.run="+runID)
	}
	return strings.Join(args, " ")
}

// qemuArgs returns the outer QEMU's arguments for the emulated host.
func qemuArgs(cfg vmConfig) []string {
	machine := "virt"
	bios := "default" // OpenSBI that ships with the outer QEMU
	if cfg.AIA {
		machine += ",aia=aplic-imsic,aia-guests=3"
		// AIA was measured with trixie's OpenSBI 1.6, which the image carries.
		bios = cfg.Image.firmware()
	}

	args := []string{
		"-machine", machine,
		"-cpu", cpuArg(cfg),
		"-smp", fmt.Sprint(cfg.SMP),
		"-m", cfg.Mem,
		"-bios", bios,
		"-kernel", cfg.Image.kernel(),
		"-initrd", cfg.Image.initrd(),
		"-append", kernelCmdline(cfg.RunID),
		// snapshot=on keeps the cached image unchanged, so runs can share it.
		"-drive", "file=" + cfg.Image.rootfs() + ",format=raw,if=virtio,snapshot=on",
		"-virtfs", "local,path=" + cfg.BuildDir + ",mount_tag=build,security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path=" + cfg.RunDir + ",mount_tag=run,security_model=none,multidevs=remap",
		"-display", "none",
		"-monitor", "none",
		"-serial", "file:" + cfg.ConsoleLog,
		"-no-reboot",
	}
	switch cfg.Net {
	case "user":
		args = append(args, "-nic", "user,model=virtio-net-pci")
	default:
		args = append(args, "-nic", "none")
	}
	return args
}
