package ocispec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// FromOCI converts an OCI spec to its protocol form; a nil spec gives nil.
func FromOCI(s *specs.Spec) *grpc.Spec {
	if s == nil {
		return nil
	}
	g := &grpc.Spec{
		Version:     s.Version,
		Process:     ProcessFromOCI(s.Process),
		Hostname:    s.Hostname,
		Annotations: s.Annotations,
		Hooks:       hooksFromOCI(s.Hooks),
		Linux:       linuxFromOCI(s.Linux),
	}
	if s.Root != nil {
		g.Root = &grpc.Root{Path: s.Root.Path, Readonly: s.Root.Readonly}
	}
	for _, m := range s.Mounts {
		g.Mounts = append(g.Mounts, &grpc.Mount{Destination: m.Destination, Source: m.Source, Type: m.Type, Options: m.Options})
	}
	return g
}

// ProcessFromOCI converts an OCI process; a nil process gives nil.
func ProcessFromOCI(p *specs.Process) *grpc.Process {
	if p == nil {
		return nil
	}
	g := &grpc.Process{
		Terminal:        p.Terminal,
		User:            &grpc.User{UID: p.User.UID, GID: p.User.GID, AdditionalGids: p.User.AdditionalGids, Username: p.User.Username},
		Args:            p.Args,
		Env:             p.Env,
		Cwd:             p.Cwd,
		NoNewPrivileges: p.NoNewPrivileges,
		ApparmorProfile: p.ApparmorProfile,
		SelinuxLabel:    p.SelinuxLabel,
	}
	if p.ConsoleSize != nil {
		g.ConsoleSize = &grpc.Box{Height: uint32(p.ConsoleSize.Height), Width: uint32(p.ConsoleSize.Width)}
	}
	if c := p.Capabilities; c != nil {
		g.Capabilities = &grpc.LinuxCapabilities{Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable, Permitted: c.Permitted, Ambient: c.Ambient}
	}
	for _, r := range p.Rlimits {
		g.Rlimits = append(g.Rlimits, &grpc.POSIXRlimit{Type: r.Type, Hard: r.Hard, Soft: r.Soft})
	}
	if p.OOMScoreAdj != nil {
		g.OOMScoreAdj = int64(*p.OOMScoreAdj)
	}
	return g
}

func hooksFromOCI(h *specs.Hooks) *grpc.Hooks {
	if h == nil {
		return nil
	}
	conv := func(hs []specs.Hook) []*grpc.Hook {
		var out []*grpc.Hook
		for _, oh := range hs {
			gh := &grpc.Hook{Path: oh.Path, Args: oh.Args, Env: oh.Env}
			if oh.Timeout != nil {
				gh.Timeout = int64(*oh.Timeout)
			}
			out = append(out, gh)
		}
		return out
	}
	return &grpc.Hooks{
		Prestart:        conv(h.Prestart), //nolint:staticcheck // Prestart is deprecated in OCI but still carried.
		Poststart:       conv(h.Poststart),
		Poststop:        conv(h.Poststop),
		CreateRuntime:   conv(h.CreateRuntime),
		CreateContainer: conv(h.CreateContainer),
		StartContainer:  conv(h.StartContainer),
	}
}

func linuxFromOCI(l *specs.Linux) *grpc.Linux {
	if l == nil {
		return nil
	}
	g := &grpc.Linux{
		Sysctl:            l.Sysctl,
		Resources:         resourcesFromOCI(l.Resources),
		CgroupsPath:       l.CgroupsPath,
		RootfsPropagation: l.RootfsPropagation,
		MaskedPaths:       l.MaskedPaths,
		ReadonlyPaths:     l.ReadonlyPaths,
		MountLabel:        l.MountLabel,
		Seccomp:           seccompFromOCI(l.Seccomp),
	}
	for _, m := range l.UIDMappings {
		g.UIDMappings = append(g.UIDMappings, &grpc.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	for _, m := range l.GIDMappings {
		g.GIDMappings = append(g.GIDMappings, &grpc.LinuxIDMapping{ContainerID: m.ContainerID, HostID: m.HostID, Size: m.Size})
	}
	for _, n := range l.Namespaces {
		g.Namespaces = append(g.Namespaces, &grpc.LinuxNamespace{Type: string(n.Type), Path: n.Path})
	}
	for _, d := range l.Devices {
		gd := &grpc.LinuxDevice{Path: d.Path, Type: d.Type, Major: d.Major, Minor: d.Minor}
		if d.FileMode != nil {
			gd.FileMode = uint32(*d.FileMode)
		}
		if d.UID != nil {
			gd.UID = *d.UID
		}
		if d.GID != nil {
			gd.GID = *d.GID
		}
		g.Devices = append(g.Devices, gd)
	}
	if l.IntelRdt != nil {
		g.IntelRdt = &grpc.LinuxIntelRdt{L3CacheSchema: l.IntelRdt.L3CacheSchema}
	}
	return g
}

func resourcesFromOCI(r *specs.LinuxResources) *grpc.LinuxResources {
	if r == nil {
		return nil
	}
	g := &grpc.LinuxResources{}
	for _, d := range r.Devices {
		gd := &grpc.LinuxDeviceCgroup{Allow: d.Allow, Type: d.Type, Access: d.Access, Major: -1, Minor: -1}
		if d.Major != nil {
			gd.Major = *d.Major
		}
		if d.Minor != nil {
			gd.Minor = *d.Minor
		}
		g.Devices = append(g.Devices, gd)
	}
	if m := r.Memory; m != nil {
		g.Memory = &grpc.LinuxMemory{Limit: deref(m.Limit), Reservation: deref(m.Reservation), Swap: deref(m.Swap)}
		if m.Swappiness != nil {
			g.Memory.Swappiness = *m.Swappiness
		}
		if m.DisableOOMKiller != nil {
			g.Memory.DisableOOMKiller = *m.DisableOOMKiller
		}
	}
	if c := r.CPU; c != nil {
		g.CPU = &grpc.LinuxCPU{
			Shares: deref(c.Shares), Quota: deref(c.Quota), Period: deref(c.Period),
			RealtimeRuntime: deref(c.RealtimeRuntime), RealtimePeriod: deref(c.RealtimePeriod),
			Cpus: c.Cpus, Mems: c.Mems,
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		g.Pids = &grpc.LinuxPids{Limit: *r.Pids.Limit}
	}
	if b := r.BlockIO; b != nil {
		g.BlockIO = &grpc.LinuxBlockIO{}
		if b.Weight != nil {
			g.BlockIO.Weight = uint32(*b.Weight)
		}
	}
	for _, h := range r.HugepageLimits {
		g.HugepageLimits = append(g.HugepageLimits, &grpc.LinuxHugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	return g
}

func seccompFromOCI(s *specs.LinuxSeccomp) *grpc.LinuxSeccomp {
	if s == nil {
		return nil
	}
	g := &grpc.LinuxSeccomp{DefaultAction: string(s.DefaultAction)}
	for _, a := range s.Architectures {
		g.Architectures = append(g.Architectures, string(a))
	}
	for _, f := range s.Flags {
		g.Flags = append(g.Flags, string(f))
	}
	for _, sc := range s.Syscalls {
		gs := &grpc.LinuxSyscall{Names: sc.Names, Action: string(sc.Action)}
		if sc.ErrnoRet != nil {
			gs.ErrnoRet = &grpc.LinuxSyscall_Errnoret{Errnoret: uint32(*sc.ErrnoRet)}
		}
		for _, a := range sc.Args {
			gs.Args = append(gs.Args, &grpc.LinuxSeccompArg{Index: uint64(a.Index), Value: a.Value, ValueTwo: a.ValueTwo, Op: string(a.Op)})
		}
		g.Syscalls = append(g.Syscalls, gs)
	}
	return g
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
