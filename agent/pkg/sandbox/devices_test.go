package sandbox

import (
	"context"
	"errors"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

func TestSetSpecDeviceRewritesNumbers(t *testing.T) {
	// /dev/null is character device 1:3 on every Linux system.
	spec := &specs.Spec{Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/xvda", Type: "b", Major: 202, Minor: 0}}}}
	if err := setSpecDevice(spec, "/dev/xvda", "/dev/null"); err != nil {
		t.Fatalf("setSpecDevice: %v", err)
	}
	got := spec.Linux.Devices[0]
	if got.Type != "c" || got.Major != 1 || got.Minor != 3 {
		t.Errorf("device = %s %d:%d, want c 1:3", got.Type, got.Major, got.Minor)
	}
	allow := spec.Linux.Resources.Devices
	if len(allow) != 1 || !allow[0].Allow || *allow[0].Major != 1 || *allow[0].Minor != 3 {
		t.Errorf("device cgroup = %+v, want an allow rule for 1:3", allow)
	}

	if err := setSpecDevice(spec, "/dev/new", "/dev/null"); err != nil {
		t.Fatalf("setSpecDevice of a new path: %v", err)
	}
	if len(spec.Linux.Devices) != 2 || spec.Linux.Devices[1].Path != "/dev/new" {
		t.Errorf("devices = %+v, want /dev/new added", spec.Linux.Devices)
	}
}

func TestApplyDevicesRejects(t *testing.T) {
	s, _ := newTestSandbox(t)
	tests := []struct {
		name   string
		device *grpc.Device
		want   error
	}{
		{"nil", nil, errdefs.ErrInvalidArgument},
		{"vfio", &grpc.Device{Id: "d1", Type: "vfio"}, errdefs.ErrUnimplemented},
		{"bad source", &grpc.Device{Id: "d1", Type: "blk", VmPath: "vda"}, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		err := s.applyDevices(context.Background(), &specs.Spec{}, []*grpc.Device{tt.device})
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: applyDevices = %v, want %v", tt.name, err, tt.want)
		}
	}
}
