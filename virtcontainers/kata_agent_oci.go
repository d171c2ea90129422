package virtcontainers

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// This file translates OCI runtime-spec values into the agent protocol's oci
// messages, field by field. Fields the guest cannot use (hooks, which name
// host binaries, and Solaris and Windows sections) are not sent.

func specToProtocol(s *specs.Spec) *grpc.Spec {
	if s == nil {
		return nil
	}
	out := &grpc.Spec{
		Version:     s.Version,
		Process:     processToProtocol(s.Process),
		Hostname:    s.Hostname,
		Annotations: s.Annotations,
		Linux:       linuxToProtocol(s.Linux),
	}
	if s.Root != nil {
		out.Root = &grpc.Root{Path: s.Root.Path, Readonly: s.Root.Readonly}
	}
	for _, m := range s.Mounts {
		out.Mounts = append(out.Mounts, &grpc.Mount{
			Destination: m.Destination,
			Source:      m.Source,
			Type:        m.Type,
			Options:     m.Options,
		})
	}
	return out
}

func processToProtocol(p *specs.Process) *grpc.Process {
	if p == nil {
		return nil
	}
	out := &grpc.Process{
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
		out.ConsoleSize = &grpc.Box{Height: uint32(p.ConsoleSize.Height), Width: uint32(p.ConsoleSize.Width)}
	}
	if p.OOMScoreAdj != nil {
		out.OOMScoreAdj = int64(*p.OOMScoreAdj)
	}
	if c := p.Capabilities; c != nil {
		out.Capabilities = &grpc.LinuxCapabilities{
			Bounding:    c.Bounding,
			Effective:   c.Effective,
			Inheritable: c.Inheritable,
			Permitted:   c.Permitted,
			Ambient:     c.Ambient,
		}
	}
	for _, r := range p.Rlimits {
		out.Rlimits = append(out.Rlimits, &grpc.POSIXRlimit{Type: r.Type, Hard: r.Hard, Soft: r.Soft})
	}
	return out
}

func linuxToProtocol(l *specs.Linux) *grpc.Linux {
	if l == nil {
		return nil
	}
	out := &grpc.Linux{
		Sysctl:            l.Sysctl,
		Resources:         resourcesToProtocol(l.Resources),
		CgroupsPath:       l.CgroupsPath,
		RootfsPropagation: l.RootfsPropagation,
		MaskedPaths:       l.MaskedPaths,
		ReadonlyPaths:     l.ReadonlyPaths,
		MountLabel:        l.MountLabel,
		Seccomp:           seccompToProtocol(l.Seccomp),
	}
	for _, m := range l.UIDMappings {
		out.UIDMappings = append(out.UIDMappings, &grpc.LinuxIDMapping{HostID: m.HostID, ContainerID: m.ContainerID, Size: m.Size})
	}
	for _, m := range l.GIDMappings {
		out.GIDMappings = append(out.GIDMappings, &grpc.LinuxIDMapping{HostID: m.HostID, ContainerID: m.ContainerID, Size: m.Size})
	}
	for _, ns := range l.Namespaces {
		out.Namespaces = append(out.Namespaces, &grpc.LinuxNamespace{Type: string(ns.Type), Path: ns.Path})
	}
	for _, d := range l.Devices {
		dev := &grpc.LinuxDevice{Path: d.Path, Type: d.Type, Major: d.Major, Minor: d.Minor}
		if d.FileMode != nil {
			dev.FileMode = uint32(*d.FileMode)
		}
		if d.UID != nil {
			dev.UID = *d.UID
		}
		if d.GID != nil {
			dev.GID = *d.GID
		}
		out.Devices = append(out.Devices, dev)
	}
	return out
}

func resourcesToProtocol(r *specs.LinuxResources) *grpc.LinuxResources {
	if r == nil {
		return nil
	}
	out := &grpc.LinuxResources{}
	for _, d := range r.Devices {
		dc := &grpc.LinuxDeviceCgroup{Allow: d.Allow, Type: d.Type, Access: d.Access}
		if d.Major != nil {
			dc.Major = *d.Major
		}
		if d.Minor != nil {
			dc.Minor = *d.Minor
		}
		out.Devices = append(out.Devices, dc)
	}
	if m := r.Memory; m != nil {
		out.Memory = &grpc.LinuxMemory{
			Limit:       derefInt64(m.Limit),
			Reservation: derefInt64(m.Reservation),
			Swap:        derefInt64(m.Swap),
		}
		if m.Swappiness != nil {
			out.Memory.Swappiness = *m.Swappiness
		}
		if m.DisableOOMKiller != nil {
			out.Memory.DisableOOMKiller = *m.DisableOOMKiller
		}
	}
	if c := r.CPU; c != nil {
		out.CPU = &grpc.LinuxCPU{
			Quota:           derefInt64(c.Quota),
			RealtimeRuntime: derefInt64(c.RealtimeRuntime),
			Cpus:            c.Cpus,
			Mems:            c.Mems,
		}
		if c.Shares != nil {
			out.CPU.Shares = *c.Shares
		}
		if c.Period != nil {
			out.CPU.Period = *c.Period
		}
		if c.RealtimePeriod != nil {
			out.CPU.RealtimePeriod = *c.RealtimePeriod
		}
	}
	if p := r.Pids; p != nil {
		out.Pids = &grpc.LinuxPids{Limit: derefInt64(p.Limit)}
	}
	for _, h := range r.HugepageLimits {
		out.HugepageLimits = append(out.HugepageLimits, &grpc.LinuxHugepageLimit{Pagesize: h.Pagesize, Limit: h.Limit})
	}
	return out
}

func seccompToProtocol(s *specs.LinuxSeccomp) *grpc.LinuxSeccomp {
	if s == nil {
		return nil
	}
	out := &grpc.LinuxSeccomp{DefaultAction: string(s.DefaultAction)}
	for _, a := range s.Architectures {
		out.Architectures = append(out.Architectures, string(a))
	}
	for _, f := range s.Flags {
		out.Flags = append(out.Flags, string(f))
	}
	for _, sc := range s.Syscalls {
		call := &grpc.LinuxSyscall{Names: sc.Names, Action: string(sc.Action)}
		if sc.ErrnoRet != nil {
			call.ErrnoRet = &grpc.LinuxSyscall_Errnoret{Errnoret: uint32(*sc.ErrnoRet)}
		}
		for _, a := range sc.Args {
			call.Args = append(call.Args, &grpc.LinuxSeccompArg{Index: uint64(a.Index), Value: a.Value, ValueTwo: a.ValueTwo, Op: string(a.Op)})
		}
		out.Syscalls = append(out.Syscalls, call)
	}
	return out
}

func derefInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
