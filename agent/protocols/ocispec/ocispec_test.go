package ocispec

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRoundTrip(t *testing.T) {
	adj := 100
	limit := int64(64 << 20)
	pids := int64(32)
	shares := uint64(512)
	major, minor := int64(1), int64(3)
	timeout := 5
	errno := uint(1)
	mode := fileMode(0o666)
	zero := uint32(0)
	disable := false

	want := &specs.Spec{
		Version:  "1.1.0",
		Hostname: "sandbox",
		Root:     &specs.Root{Path: "/run/kata-containers/shared/containers/c1/rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal:     true,
			ConsoleSize:  &specs.Box{Height: 24, Width: 80},
			User:         specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10}},
			Args:         []string{"sh", "-c", "echo hi"},
			Env:          []string{"PATH=/bin"},
			Cwd:          "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}},
			Rlimits:      []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			OOMScoreAdj:  &adj,
		},
		Mounts:      []specs.Mount{{Destination: "/proc", Source: "proc", Type: "proc", Options: []string{"nosuid"}}},
		Hooks:       &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/hook", Args: []string{"hook"}, Timeout: &timeout}}},
		Annotations: map[string]string{"io.kubernetes.cri.container-type": "sandbox"},
		Linux: &specs.Linux{
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}},
			Sysctl:      map[string]string{"net.ipv4.ip_forward": "1"},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}},
				Memory:  &specs.LinuxMemory{Limit: &limit, DisableOOMKiller: &disable},
				CPU:     &specs.LinuxCPU{Shares: &shares, Cpus: "0-1"},
				Pids:    &specs.LinuxPids{Limit: &pids},
			},
			CgroupsPath: "/kata/c1",
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"}},
			Devices:     []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &zero, GID: &zero}},
			Seccomp: &specs.LinuxSeccomp{
				DefaultAction: specs.ActErrno,
				Architectures: []specs.Arch{specs.ArchRISCV64},
				Syscalls:      []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: &errno}},
			},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
		},
	}

	got := ToOCI(FromOCI(want))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToOCI(FromOCI(spec)) differs:\n got %+v\nwant %+v", got, want)
	}
}

func TestNilInputs(t *testing.T) {
	if ToOCI(nil) != nil {
		t.Errorf("ToOCI(nil) != nil")
	}
	if FromOCI(nil) != nil {
		t.Errorf("FromOCI(nil) != nil")
	}
	if ProcessToOCI(nil) != nil {
		t.Errorf("ProcessToOCI(nil) != nil")
	}
}
