package client

import (
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    Address
		wantErr bool
	}{
		{url: "vsock://3:1024", want: Address{Scheme: "vsock", CID: 3, Port: 1024}},
		{url: "hvsock:///run/vc/firecracker/abc/root/kata.hvsock:1024", want: Address{Scheme: "hvsock", Path: "/run/vc/firecracker/abc/root/kata.hvsock", Port: 1024}},
		{url: "hvsock:///tmp/a:b.sock:2", want: Address{Scheme: "hvsock", Path: "/tmp/a:b.sock", Port: 2}},
		{url: "unix:///tmp/agent.sock", want: Address{Scheme: "unix", Path: "/tmp/agent.sock"}},
		{url: "vsock://3", wantErr: true},
		{url: "vsock://-1:1024", wantErr: true},
		{url: "vsock://3:port", wantErr: true},
		{url: "hvsock:///tmp/kata.hvsock", wantErr: true},
		{url: "tcp://127.0.0.1:1024", wantErr: true},
		{url: "/tmp/agent.sock", wantErr: true},
		{url: "unix://", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseURL(%q) = %+v, want an error", tt.url, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q) error: %v", tt.url, err)
			}
			if got != tt.want {
				t.Errorf("ParseURL(%q) = %+v, want %+v", tt.url, got, tt.want)
			}
			if s := got.String(); s != tt.url {
				t.Errorf("Address.String() = %q, want %q", s, tt.url)
			}
		})
	}
}
