package storage

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		options   []string
		wantFlags uintptr
		wantData  string
	}{
		{nil, 0, ""},
		{[]string{"ro", "nosuid", "nodev"}, unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV, ""},
		{[]string{"ro", "rw"}, 0, ""},
		{[]string{"trans=virtio", "version=9p2000.L", "nodev"}, unix.MS_NODEV, "trans=virtio,version=9p2000.L"},
		{[]string{"rbind", "size=64m"}, unix.MS_BIND | unix.MS_REC, "size=64m"},
	}
	for _, tt := range tests {
		flags, data := ParseOptions(tt.options)
		if flags != tt.wantFlags {
			t.Errorf("ParseOptions(%q) flags = %#x, want %#x", tt.options, flags, tt.wantFlags)
		}
		if data != tt.wantData {
			t.Errorf("ParseOptions(%q) data = %q, want %q", tt.options, data, tt.wantData)
		}
	}
}

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"/run/kata-containers/shared/containers", true},
		{"/", true},
		{"", false},
		{"relative/path", false},
		{"/run/../etc", false},
		{"/run/kata/..", false},
		{"/run//kata", false},
		{"/run/kata/", false},
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}

func TestMountRejectsBadRequests(t *testing.T) {
	tests := []struct {
		name    string
		storage *grpc.Storage
		want    error
	}{
		{"nil", nil, errdefs.ErrInvalidArgument},
		{"traversal", &grpc.Storage{Driver: DriverEphemeral, MountPoint: "/run/../etc"}, errdefs.ErrInvalidArgument},
		{"unknown driver", &grpc.Storage{Driver: "nvdimm", MountPoint: "/run/x"}, errdefs.ErrUnimplemented},
		{"block source neither /dev nor PCI", &grpc.Storage{Driver: DriverBlk, Source: "vda", MountPoint: "/run/x"}, errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Mount(context.Background(), tt.storage, t.TempDir())
			if !errors.Is(err, tt.want) {
				t.Errorf("Mount = %v, want %v", err, tt.want)
			}
		})
	}
}
