package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// Defaults and limits of [agent.kata] and [runtime]. The upper limits catch
// a value typed in milliseconds or minutes where seconds are expected.
const (
	DefaultDialTimeout            = 45 * time.Second
	MaxDialTimeout                = time.Hour
	DefaultCreateContainerTimeout = 60 * time.Second
	MaxCreateContainerTimeout     = 24 * time.Hour
)

// build validates the decoded sections and assembles the Config.
func (d *decoder) build(path string, raw *tomlFile) *Config {
	cfg := &Config{Path: path}

	var names []string
	for name := range raw.Hypervisor {
		names = append(names, name)
	}
	sort.Strings(names)

	var chosen []string
	for _, name := range names {
		switch {
		case name == string(vc.QemuHypervisor) || name == string(vc.FirecrackerHypervisor):
			chosen = append(chosen, name)
		case foreignHypervisors[name]:
			d.ps.add(ErrUnsupported, sectionKey("hypervisor", name), nil,
				fmt.Sprintf("kata-riscv64 drives only QEMU and Firecracker, not %s", name),
				"replace the section with [hypervisor.qemu] from the shipped configuration-qemu.toml")
		default:
			d.ps.add(ErrUnknownKey, sectionKey("hypervisor", name), nil, "unknown hypervisor section",
				"use [hypervisor.qemu] or [hypervisor.firecracker]")
		}
	}
	switch len(chosen) {
	case 0:
		if len(names) == 0 {
			d.ps.add(ErrInvalidValue, "hypervisor", nil, "the file has no [hypervisor.qemu] or [hypervisor.firecracker] section",
				"start from the shipped configuration-qemu.toml or configuration-fc.toml")
		}
	case 1:
		h := raw.Hypervisor[chosen[0]]
		cfg.HypervisorType = vc.HypervisorType(chosen[0])
		cfg.Hypervisor = d.hypervisor(chosen[0], &h)
	default:
		d.ps.add(ErrInvalidValue, sectionKey("hypervisor", chosen[1]), nil,
			"the file has both [hypervisor.qemu] and [hypervisor.firecracker]; a sandbox runs on one VMM",
			"keep one of the two sections (use a separate configuration file for the other VMM)")
	}

	agent := raw.Agent["kata"]
	for name := range raw.Agent {
		if name != "kata" {
			d.ps.add(ErrUnknownKey, sectionKey("agent", name), nil, "unknown agent section; the only agent is [agent.kata]",
				"rename the section to [agent.kata]")
		}
	}
	cfg.Agent = d.agent(&agent, cfg.HypervisorType)
	cfg.Runtime = d.runtime(&raw.Runtime)
	return cfg
}

// agent validates [agent.kata].
func (d *decoder) agent(a *tomlAgent, hv vc.HypervisorType) vc.AgentConfig {
	s := section{d: d, path: []string{"agent", "kata"}}
	cfg := vc.AgentConfig{
		EnableDebug:         a.EnableDebug,
		EnableTracing:       a.EnableTracing,
		DebugConsoleEnabled: a.DebugConsoleEnabled,
		KernelModules:       a.KernelModules,
		DialTimeout: time.Duration(s.inRange("dial_timeout", a.DialTimeout,
			int64(DefaultDialTimeout/time.Second), 1, int64(MaxDialTimeout/time.Second), " seconds")) * time.Second,
		Channel: vc.AgentChannel(s.oneOf("channel", a.Channel, string(vc.ChannelAuto),
			string(vc.ChannelAuto), string(vc.ChannelVsock), string(vc.ChannelSerial))),
	}

	if hv == vc.FirecrackerHypervisor && cfg.Channel == vc.ChannelSerial {
		s.unsupported("channel", string(cfg.Channel), "Firecracker has no virtio-serial device; its agent channel is hybrid vsock",
			"set channel = \"vsock\" or \"auto\"")
	}
	for _, m := range a.KernelModules {
		if strings.TrimSpace(m) == "" {
			s.invalid("kernel_modules", a.KernelModules, "an entry is empty", "remove the empty entry")
		}
	}
	return cfg
}

// runtime validates [runtime].
func (d *decoder) runtime(r *tomlRuntime) RuntimeConfig {
	s := section{d: d, path: []string{"runtime"}}
	cfg := RuntimeConfig{
		EnableDebug:   r.EnableDebug,
		EnableTracing: r.EnableTracing,
		InternetworkingModel: InternetworkingModel(s.oneOf("internetworking_model", r.InternetworkingModel, string(NetTCFilter),
			string(NetTCFilter), string(NetMacvtap), string(NetNone))),
		DisableGuestSeccomp:       r.DisableGuestSeccomp || !s.defined("disable_guest_seccomp"),
		SandboxCgroupOnly:         r.SandboxCgroupOnly,
		StaticSandboxResourceMgmt: true,
		DisableNewNetNs:           r.DisableNewNetNs,
		CreateContainerTimeout: time.Duration(s.inRange("create_container_timeout", r.CreateContainerTimeout,
			int64(DefaultCreateContainerTimeout/time.Second), 1, int64(MaxCreateContainerTimeout/time.Second), " seconds")) * time.Second,
		EnablePprof:          r.EnablePprof,
		VfioMode:             s.oneOf("vfio_mode", r.VfioMode, "guest-kernel", "guest-kernel", "vfio"),
		SandboxBindMounts:    r.SandboxBindMounts,
		DisableGuestEmptyDir: r.DisableGuestEmptyDir,
		GuestSeLinuxLabel:    r.GuestSeLinuxLabel,
	}

	if s.defined("static_sandbox_resource_mgmt") && !r.StaticSandboxResourceMgmt {
		s.ignore("static_sandbox_resource_mgmt", true, reasonNoHotplug+", so VMs are always sized statically")
	}
	if cfg.DisableNewNetNs && cfg.InternetworkingModel != NetNone {
		s.invalid("disable_new_netns", true,
			fmt.Sprintf("conflicts with internetworking_model = %q, which needs a network namespace", cfg.InternetworkingModel),
			"set internetworking_model = \"none\" or remove disable_new_netns")
	}
	s.ignore("experimental", len(r.Experimental) > 0, "kata-riscv64 has no experimental features")

	for _, m := range r.SandboxBindMounts {
		hostPath := strings.TrimSuffix(strings.TrimSuffix(m, ":ro"), ":rw")
		if !filepath.IsAbs(hostPath) {
			s.invalid("sandbox_bind_mounts", m, "entry must be an absolute host path, optionally followed by :ro or :rw",
				"write the full path, starting with /")
		}
	}
	return cfg
}
