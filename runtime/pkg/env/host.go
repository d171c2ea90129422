package env

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/prometheus/procfs"
	"github.com/sirupsen/logrus"
)

// host reads host facts from a root directory.
type host struct {
	root string
	log  *logrus.Entry
}

func (h host) path(p string) string { return hostPath(h.root, p) }

func (h host) info(arch string) HostInfo {
	info := HostInfo{
		// riscv64 has no confidential guest technology that Kata supports.
		AvailableGuestProtections: []string{},
		Kernel:                    h.kernelRelease(),
		Architecture:              defaultArch(arch),
		Distro:                    h.distro(),
		Memory:                    h.memory(),
		SupportVSocks:             h.exists("/dev/vhost-vsock"),
	}

	cpu, err := h.cpu()
	if err != nil {
		h.log.WithError(err).Warn("cannot read the host CPU")
	}
	info.CPU = cpu

	// The minimal test for Options.Capable == nil. It leaves out the kernel
	// modules, KVM ioctls and vCPU creation that kata-runtime check tests.
	info.VMContainerCapable = info.Architecture == "riscv64" && cpu.HExtension && h.exists("/dev/kvm")
	return info
}

func (h host) exists(p string) bool {
	_, err := os.Stat(h.path(p))
	return err == nil
}

func (h host) kernelRelease() string {
	data, err := os.ReadFile(h.path("/proc/sys/kernel/osrelease"))
	if err != nil {
		h.log.WithError(err).Warn("cannot read the host kernel release")
		return ""
	}
	return strings.TrimSpace(string(data))
}

// distro reads NAME and VERSION_ID from os-release(5), which lives in /etc
// or, on systems without it there, in /usr/lib.
func (h host) distro() DistroInfo {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := os.ReadFile(h.path(p))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			h.log.WithError(err).Warn("cannot read os-release")
			return DistroInfo{}
		}
		fields := parseOSRelease(data)
		return DistroInfo{Name: fields["NAME"], Version: fields["VERSION_ID"]}
	}
	h.log.Warn("no os-release file in /etc or /usr/lib")
	return DistroInfo{}
}

func parseOSRelease(data []byte) map[string]string {
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		fields[key] = value
	}
	return fields
}

func (h host) memory() MemoryInfo {
	fs, err := procfs.NewFS(h.path("/proc"))
	if err != nil {
		h.log.WithError(err).Warn("cannot open /proc")
		return MemoryInfo{}
	}
	mi, err := fs.Meminfo()
	if err != nil {
		h.log.WithError(err).Warn("cannot read /proc/meminfo")
		return MemoryInfo{}
	}
	var m MemoryInfo
	for dst, src := range map[*uint64]*uint64{&m.Total: mi.MemTotal, &m.Free: mi.MemFree, &m.Available: mi.MemAvailable} {
		if src != nil {
			*dst = *src
		}
	}
	return m
}
