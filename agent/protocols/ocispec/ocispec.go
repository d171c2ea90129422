// Package ocispec converts between the OCI runtime specification
// (opencontainers/runtime-spec) and its form in the agent protocol. The
// runtime converts to the protocol before CreateContainer and ExecProcess,
// and the agent converts back before it writes config.json for runc or crun.
//
// Both directions carry the same fields; parts the protocol has no field
// for (such as scheduler, personality or time namespaces) are dropped.
package ocispec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// ToOCI converts a protocol spec; a nil spec gives nil.
func ToOCI(g *grpc.Spec) *specs.Spec {
	if g == nil {
		return nil
	}
	s := &specs.Spec{
		Version:     g.Version,
		Process:     ProcessToOCI(g.Process),
		Hostname:    g.Hostname,
		Annotations: g.Annotations,
		Hooks:       hooksToOCI(g.Hooks),
		Linux:       linuxToOCI(g.Linux),
	}
	if g.Root != nil {
		s.Root = &specs.Root{Path: g.Root.Path, Readonly: g.Root.Readonly}
	}
	for _, m := range g.Mounts {
		if m == nil {
			continue
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Destination, Source: m.Source, Type: m.Type, Options: m.Options})
	}
	return s
}

// ProcessToOCI converts a protocol process; a nil process gives nil.
func ProcessToOCI(g *grpc.Process) *specs.Process {
	if g == nil {
		return nil
	}
	p := &specs.Process{
		Terminal:        g.Terminal,
		Args:            g.Args,
		Env:             g.Env,
		Cwd:             g.Cwd,
		NoNewPrivileges: g.NoNewPrivileges,
		ApparmorProfile: g.ApparmorProfile,
		SelinuxLabel:    g.SelinuxLabel,
	}
	if g.ConsoleSize != nil {
		p.ConsoleSize = &specs.Box{Height: uint(g.ConsoleSize.Height), Width: uint(g.ConsoleSize.Width)}
	}
	if g.User != nil {
		p.User = specs.User{UID: g.User.UID, GID: g.User.GID, AdditionalGids: g.User.AdditionalGids, Username: g.User.Username}
	}
	if c := g.Capabilities; c != nil {
		p.Capabilities = &specs.LinuxCapabilities{Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable, Permitted: c.Permitted, Ambient: c.Ambient}
	}
	for _, r := range g.Rlimits {
		if r == nil {
			continue
		}
		p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{Type: r.Type, Hard: r.Hard, Soft: r.Soft})
	}
	if g.OOMScoreAdj != 0 {
		adj := int(g.OOMScoreAdj)
		p.OOMScoreAdj = &adj
	}
	return p
}

func hooksToOCI(g *grpc.Hooks) *specs.Hooks {
	if g == nil {
		return nil
	}
	conv := func(hs []*grpc.Hook) []specs.Hook {
		var out []specs.Hook
		for _, h := range hs {
			if h == nil {
				continue
			}
			oh := specs.Hook{Path: h.Path, Args: h.Args, Env: h.Env}
			if h.Timeout != 0 {
				t := int(h.Timeout)
				oh.Timeout = &t
			}
			out = append(out, oh)
		}
		return out
	}
	return &specs.Hooks{
		Prestart:        conv(g.Prestart), //nolint:staticcheck // Prestart is deprecated in OCI but still carried.
		Poststart:       conv(g.Poststart),
		Poststop:        conv(g.Poststop),
		CreateRuntime:   conv(g.CreateRuntime),
		CreateContainer: conv(g.CreateContainer),
		StartContainer:  conv(g.StartContainer),
	}
}

func linuxToOCI(g *grpc.Linux) *specs.Linux {
	if g == nil {
		return nil
	}
	l := &specs.Linux{
		Sysctl:            g.Sysctl,
		Resources:         resourcesToOCI(g.Resources),
		CgroupsPath:       g.CgroupsPath,
		RootfsPropagation: g.RootfsPropagation,
		MaskedPaths:       g.MaskedPaths,
		ReadonlyPaths:     g.ReadonlyPaths,
		MountLabel:        g.MountLabel,
		Seccomp:           seccompToOCI(g.Seccomp),
	}
	for _, m := range g.UIDMappings {
		if m != nil {
			l.UIDMappings = append(l.UIDMappings, specs.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
		}
	}
	for _, m := range g.GIDMappings {
		if m != nil {
			l.GIDMappings = append(l.GIDMappings, specs.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
		}
	}
	for _, n := range g.Namespaces {
		if n != nil {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: specs.LinuxNamespaceType(n.Type), Path: n.Path})
		}
	}
	for _, d := range g.Devices {
		if d == nil {
			continue
		}
		od := specs.LinuxDevice{Path: d.Path, Type: d.Type, Major: d.Major, Minor: d.Minor}
		if d.FileMode != 0 {
			mode := fileMode(d.FileMode)
			od.FileMode = &mode
		}
		uid, gid := d.UID, d.GID
		od.UID, od.GID = &uid, &gid
		l.Devices = append(l.Devices, od)
	}
	if g.IntelRdt != nil {
		l.IntelRdt = &specs.LinuxIntelRdt{L3CacheSchema: g.IntelRdt.L3CacheSchema}
	}
	return l
}

func resourcesToOCI(g *grpc.LinuxResources) *specs.LinuxResources {
	if g == nil {
		return nil
	}
	r := &specs.LinuxResources{}
	for _, d := range g.Devices {
		if d == nil {
			continue
		}
		od := specs.LinuxDeviceCgroup{Allow: d.Allow, Type: d.Type, Access: d.Access}
		if d.Major != -1 {
			major := d.Major
			od.Major = &major
		}
		if d.Minor != -1 {
			minor := d.Minor
			od.Minor = &minor
		}
		r.Devices = append(r.Devices, od)
	}
	if m := g.Memory; m != nil {
		r.Memory = &specs.LinuxMemory{DisableOOMKiller: &m.DisableOOMKiller}
		r.Memory.Limit = nonZeroInt64(m.Limit)
		r.Memory.Reservation = nonZeroInt64(m.Reservation)
		r.Memory.Swap = nonZeroInt64(m.Swap)
		if m.Swappiness != 0 {
			sw := m.Swappiness
			r.Memory.Swappiness = &sw
		}
	}
	if c := g.CPU; c != nil {
		r.CPU = &specs.LinuxCPU{Cpus: c.Cpus, Mems: c.Mems}
		r.CPU.Shares = nonZeroUint64(c.Shares)
		r.CPU.Quota = nonZeroInt64(c.Quota)
		r.CPU.Period = nonZeroUint64(c.Period)
		r.CPU.RealtimeRuntime = nonZeroInt64(c.RealtimeRuntime)
		r.CPU.RealtimePeriod = nonZeroUint64(c.RealtimePeriod)
	}
	if g.Pids != nil {
		limit := g.Pids.Limit
		r.Pids = &specs.LinuxPids{Limit: &limit}
	}
	if b := g.BlockIO; b != nil {
		r.BlockIO = &specs.LinuxBlockIO{}
		if b.Weight != 0 {
			w := uint16(b.Weight)
			r.BlockIO.Weight = &w
		}
	}
	for _, h := range g.HugepageLimits {
		if h != nil {
			r.HugepageLimits = append(r.HugepageLimits, specs.LinuxHugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
		}
	}
	return r
}

func seccompToOCI(g *grpc.LinuxSeccomp) *specs.LinuxSeccomp {
	if g == nil {
		return nil
	}
	s := &specs.LinuxSeccomp{DefaultAction: specs.LinuxSeccompAction(g.DefaultAction)}
	for _, a := range g.Architectures {
		s.Architectures = append(s.Architectures, specs.Arch(a))
	}
	for _, f := range g.Flags {
		s.Flags = append(s.Flags, specs.LinuxSeccompFlag(f))
	}
	for _, sc := range g.Syscalls {
		if sc == nil {
			continue
		}
		os := specs.LinuxSyscall{Names: sc.Names, Action: specs.LinuxSeccompAction(sc.Action)}
		if e, ok := sc.ErrnoRet.(*grpc.LinuxSyscall_Errnoret); ok {
			v := uint(e.Errnoret)
			os.ErrnoRet = &v
		}
		for _, a := range sc.Args {
			if a != nil {
				os.Args = append(os.Args, specs.LinuxSeccompArg{Index: uint(a.Index), Value: a.Value, ValueTwo: a.ValueTwo, Op: specs.LinuxSeccompOperator(a.Op)})
			}
		}
		s.Syscalls = append(s.Syscalls, os)
	}
	return s
}

func nonZeroInt64(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func nonZeroUint64(v uint64) *uint64 {
	if v == 0 {
		return nil
	}
	return &v
}
