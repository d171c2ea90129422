package config

import (
	"reflect"
	"testing"

	"github.com/sirupsen/logrus"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		want    Config
		wantErr bool
	}{
		{
			name:    "defaults",
			cmdline: "console=hvc0 root=/dev/vda1 quiet\n",
			want:    Config{LogLevel: logrus.InfoLevel},
		},
		{
			name:    "upstream firecracker line",
			cmdline: "console=ttyS0 agent.log=debug agent.log_vport=1025 agent.debug_console systemd.unit=kata-containers.target",
			want:    Config{LogLevel: logrus.DebugLevel, LogVport: 1025, DebugConsole: true},
		},
		{
			name:    "server address and runtime",
			cmdline: "agent.server_addr=unix:///tmp/agent.sock agent.oci_runtime=runc agent.trace=true",
			want:    Config{ServerAddr: "unix:///tmp/agent.sock", OCIRuntime: "runc", LogLevel: logrus.InfoLevel, Ignored: []string{"agent.trace=true"}},
		},
		{name: "bad log level", cmdline: "agent.log=loud", wantErr: true},
		{name: "bad log vport", cmdline: "agent.log_vport=x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.cmdline)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want an error", tt.cmdline, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.cmdline, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.cmdline, got, tt.want)
			}
		})
	}
}
