// Package env builds the report of `kata-runtime env`: the effective
// configuration and the host facts that matter to Kata, in the sections and
// key names of upstream Kata's kata-env so that tools reading its TOML or
// JSON output keep working. riscv64 facts are added as extra keys.
package env

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// FormatVersion is the version of upstream's kata-env output format whose
// sections and keys this report carries (upstream Kata 4.1.0).
const FormatVersion = "1.0.27"

// Info is the whole report. Field names are the output's keys.
type Info struct {
	Kernel     KernelInfo
	Meta       MetaInfo
	Image      ImageInfo
	Initrd     InitrdInfo
	Hypervisor HypervisorInfo
	Runtime    RuntimeInfo
	Host       HostInfo
	Agent      AgentInfo
}

type KernelInfo struct {
	Path       string
	Parameters string
}

type MetaInfo struct {
	Version string
}

type ImageInfo struct {
	Path string
}

type InitrdInfo struct {
	Path string
}

// HypervisorInfo is the [Hypervisor] section. Accelerator, AIA and
// VirtioTransport are riscv64 additions.
type HypervisorInfo struct {
	MachineType       string
	Version           string
	Path              string
	BlockDeviceDriver string
	EntropySource     string
	SharedFS          string
	VirtioFSDaemon    string
	SocketPath        string
	Msize9p           uint32
	MemorySlots       uint32
	HotPlugVFIO       string
	ColdPlugVFIO      string
	PCIeRootPort      uint32
	PCIeSwitchPort    uint32
	Debug             bool
	Accelerator       string
	AIA               string
	VirtioTransport   string
	SecurityInfo      SecurityInfo
}

type SecurityInfo struct {
	Rootless          bool
	DisableSeccomp    bool
	GuestHookPath     string
	EnableAnnotations []string
	ConfidentialGuest bool
}

type RuntimeInfo struct {
	Config              RuntimeConfigInfo
	Path                string
	GuestSeLinuxLabel   string
	Experimental        []string
	Version             RuntimeVersionInfo
	Debug               bool
	Trace               bool
	DisableGuestSeccomp bool
	DisableNewNetNs     bool
	SandboxCgroupOnly   bool
}

type RuntimeConfigInfo struct {
	Path string
}

type RuntimeVersionInfo struct {
	OCI     string
	Version VersionInfo
}

type VersionInfo struct {
	Semver string
	Commit string
	Major  uint64
	Minor  uint64
	Patch  uint64
}

type HostInfo struct {
	AvailableGuestProtections []string
	Kernel                    string
	Architecture              string
	Distro                    DistroInfo
	CPU                       CPUInfo
	Memory                    MemoryInfo
	VMContainerCapable        bool
	SupportVSocks             bool
}

type DistroInfo struct {
	Name    string
	Version string
}

// CPUInfo is the [Host.CPU] section, where CPUs is the number of harts in
// /proc/cpuinfo. ISA, MMU, HExtension and Extensions are riscv64 additions.
// Extensions are the host's extensions besides H that help KVM guests
// (Sstc, Ssaia, Smaia, Svpbmt, V).
type CPUInfo struct {
	Vendor     string
	Model      string
	CPUs       int
	ISA        string
	MMU        string
	HExtension bool
	Extensions []string
}

// MemoryInfo is the [Host.Memory] section, in KiB as /proc/meminfo prints it.
type MemoryInfo struct {
	Total     uint64
	Free      uint64
	Available uint64
}

// AgentInfo is the [Agent] section. Channel and DialTimeout are riscv64
// additions.
type AgentInfo struct {
	Debug       bool
	Trace       bool
	Channel     string
	DialTimeout string
}

// Options are the inputs of Gather.
type Options struct {
	// Config is the loaded configuration, usually from a lenient load so
	// that the report works while the guest kernel is missing.
	Config *config.Config
	// Root is the directory that holds the host's /proc, /sys, /dev and
	// /etc; empty means "/". Tests point it at a fake tree.
	Root string
	// Arch is the host architecture; empty means the GOARCH of this build.
	Arch string
	// RuntimePath is the kata-runtime binary; empty means os.Executable.
	RuntimePath string
	// Version and Commit identify this build.
	Version string
	Commit  string
	// HypervisorVersion returns the VMM's version line; nil runs
	// "<path> --version" with a timeout.
	HypervisorVersion func(path string) (string, error)
	// Capable reports whether the host can run Kata Containers, normally by
	// running kata-runtime check's list of checks. Nil falls back to a
	// minimal test: riscv64, the H extension and /dev/kvm under Root.
	Capable func() bool
	// Log receives what could not be read; nil means logrus's standard logger.
	Log *logrus.Entry
}

// versionTimeout bounds "<vmm> --version", which QEMU prints without
// starting a VM.
const versionTimeout = 10 * time.Second

// Gather builds the report. Host facts that cannot be read are left empty
// and logged, because a partial report is more useful than none.
func Gather(o Options) *Info {
	log := o.Log
	if log == nil {
		log = logrus.WithFields(logrus.Fields{"source": "kata-runtime", "subsystem": "env"})
	}
	h := host{root: o.Root, log: log}
	c := o.Config
	hv := c.Hypervisor

	info := &Info{
		Meta:   MetaInfo{Version: FormatVersion},
		Kernel: KernelInfo{Path: hv.KernelPath, Parameters: strings.Join(hv.KernelParams, " ")},
		Image:  ImageInfo{Path: hv.ImagePath},
		Initrd: InitrdInfo{Path: hv.InitrdPath},
		Agent: AgentInfo{
			Debug:       c.Agent.EnableDebug,
			Trace:       c.Agent.EnableTracing,
			Channel:     string(c.Agent.Channel),
			DialTimeout: c.Agent.DialTimeout.String(),
		},
	}
	info.Hypervisor = hypervisorInfo(hv, o, log)
	info.Runtime = runtimeInfo(c, o)
	info.Host = h.info(o.Arch)
	if o.Capable != nil {
		info.Host.VMContainerCapable = o.Capable()
	}
	return info
}

func hypervisorInfo(hv vc.HypervisorConfig, o Options, log *logrus.Entry) HypervisorInfo {
	version := "unknown"
	run := o.HypervisorVersion
	if run == nil {
		run = func(path string) (string, error) { return commandVersion(hostPath(o.Root, path)) }
	}
	if v, err := run(hv.Path); err != nil {
		log.WithError(err).WithField("path", hv.Path).Warn("cannot read the hypervisor version")
	} else {
		version = v
	}

	return HypervisorInfo{
		MachineType:       hv.MachineType,
		Version:           version,
		Path:              hv.Path,
		BlockDeviceDriver: string(hv.BlockDeviceDriver),
		EntropySource:     hv.EntropySource,
		SharedFS:          string(hv.SharedFS),
		VirtioFSDaemon:    hv.VirtioFSDaemon,
		Msize9p:           hv.Msize9p,
		MemorySlots:       hv.MemorySlots,
		// VFIO passthrough is not offered on riscv64.
		HotPlugVFIO:     "no-port",
		ColdPlugVFIO:    "no-port",
		PCIeRootPort:    hv.PCIeRootPorts,
		Debug:           hv.EnableDebug,
		Accelerator:     string(hv.Accelerator),
		AIA:             string(hv.AIA),
		VirtioTransport: string(hv.VirtioTransport),
		SecurityInfo: SecurityInfo{
			GuestHookPath:     hv.GuestHookPath,
			EnableAnnotations: hv.EnableAnnotations,
		},
	}
}

func runtimeInfo(c *config.Config, o Options) RuntimeInfo {
	path := o.RuntimePath
	if path == "" {
		path, _ = os.Executable()
	}
	return RuntimeInfo{
		Config:              RuntimeConfigInfo{Path: c.Path},
		Path:                path,
		GuestSeLinuxLabel:   c.Runtime.GuestSeLinuxLabel,
		Experimental:        append([]string{}, c.Runtime.Experimental...),
		Version:             RuntimeVersionInfo{OCI: specs.Version, Version: parseVersion(o.Version, o.Commit)},
		Debug:               c.Runtime.EnableDebug,
		Trace:               c.Runtime.EnableTracing,
		DisableGuestSeccomp: c.Runtime.DisableGuestSeccomp,
		DisableNewNetNs:     c.Runtime.DisableNewNetNs,
		SandboxCgroupOnly:   c.Runtime.SandboxCgroupOnly,
	}
}

// parseVersion splits a semantic version such as "0.1.0" or "0.1.0-dev";
// parts that are not numbers stay 0.
func parseVersion(semver, commit string) VersionInfo {
	v := VersionInfo{Semver: semver, Commit: commit}
	core, _, _ := strings.Cut(strings.TrimPrefix(semver, "v"), "-")
	parts := strings.SplitN(core, ".", 3)
	nums := []*uint64{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		if n, err := strconv.ParseUint(p, 10, 64); err == nil {
			*nums[i] = n
		}
	}
	return v
}

// commandVersion runs "path --version" and returns its first line.
func commandVersion(path string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()

	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return "", err
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first, nil
}

func hostPath(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	return filepath.Join(root, p)
}

func defaultArch(arch string) string {
	if arch == "" {
		return goruntime.GOARCH
	}
	return arch
}
