package preinit

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		want    Params
	}{
		{
			name:    "kata image parameters",
			cmdline: "console=ttyS0 root=/dev/vda rootfstype=ext4 rootflags=data=ordered,errors=remount-ro ro systemd.unit=kata-containers.target",
			want: Params{Root: "/dev/vda", FSType: "ext4", Flags: "data=ordered,errors=remount-ro", ReadOnly: true,
				Init: "/sbin/init", HasRootFS: true},
		},
		{
			name:    "no root",
			cmdline: "console=hvc0 quiet",
			want:    Params{FSType: "ext4", Init: "/sbin/init"},
		},
		{
			name:    "rw wins when last and init overridden",
			cmdline: "ro root=/dev/vdb rw init=/usr/bin/kata-agent",
			want:    Params{Root: "/dev/vdb", FSType: "ext4", Init: "/usr/bin/kata-agent", HasRootFS: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseCmdline(tt.cmdline); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCmdline() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseModuleList(t *testing.T) {
	in := "# load order\n/usr/lib/modules/6.12/kernel/lib/crc16.ko\n\n/usr/lib/modules/6.12/kernel/fs/ext4/ext4.ko\n"
	got, err := ParseModuleList(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/lib/modules/6.12/kernel/lib/crc16.ko", "/usr/lib/modules/6.12/kernel/fs/ext4/ext4.ko"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseModuleList() = %q, want %q", got, want)
	}
}
