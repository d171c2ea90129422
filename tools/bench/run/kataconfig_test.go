package run

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

func TestWriteKataConfigLoads(t *testing.T) {
	repo, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		accel vc.Accelerator
		fs    vc.SharedFSType
		ch    vc.AgentChannel
	}{
		{"tcg serial 9p", vc.AccelTCG, vc.SharedFS9P, vc.ChannelSerial},
		{"kvm vsock virtio-fs", vc.AccelKVM, vc.SharedFSVirtioFS, vc.ChannelVsock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions(repo)
			o.Kernel = "/guest/vmlinux.container"
			o.Initrd = "/guest/initrd.img"
			o.Accelerator, o.SharedFS, o.AgentChannel = tt.accel, tt.fs, tt.ch
			o.DialTimeout = 90 * time.Second

			path := filepath.Join(t.TempDir(), "configuration.toml")
			if err := writeKataConfig(o, path); err != nil {
				t.Fatalf("writeKataConfig: %v", err)
			}
			cfg, err := config.Loader{Lenient: true}.LoadFile(path)
			if err != nil {
				t.Fatalf("loading the written configuration: %v", err)
			}

			h := cfg.Hypervisor
			if h.KernelPath != o.Kernel {
				t.Errorf("kernel = %q, want %q", h.KernelPath, o.Kernel)
			}
			if h.InitrdPath != o.Initrd || h.ImagePath != "" {
				t.Errorf("initrd = %q, image = %q; want initrd %q and no image", h.InitrdPath, h.ImagePath, o.Initrd)
			}
			if h.Accelerator != tt.accel {
				t.Errorf("accelerator = %q, want %q", h.Accelerator, tt.accel)
			}
			if h.SharedFS != tt.fs {
				t.Errorf("shared_fs = %q, want %q", h.SharedFS, tt.fs)
			}
			if cfg.Agent.Channel != tt.ch {
				t.Errorf("channel = %q, want %q", cfg.Agent.Channel, tt.ch)
			}
			if cfg.Agent.DialTimeout != o.DialTimeout {
				t.Errorf("dial_timeout = %v, want %v", cfg.Agent.DialTimeout, o.DialTimeout)
			}
		})
	}
}

func TestWriteKataConfigRejectsForeignTemplate(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(tmpl, []byte("[hypervisor.qemu]\npath = \"/usr/bin/qemu\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions(dir)
	o.ConfigTemplate = tmpl
	err := writeKataConfig(o, filepath.Join(dir, "out.toml"))
	if err == nil || !strings.Contains(err.Error(), "no line for key kernel") {
		t.Errorf("writeKataConfig error = %v, want one naming the missing kernel line", err)
	}
}

func TestReplaceKeyDropsDuplicates(t *testing.T) {
	in := "# kernel = \"/a\"\nkernel = \"/b\"\nother = 1\n"
	got, err := replaceKey(in, "kernel", `kernel = "/c"`)
	if err != nil {
		t.Fatal(err)
	}
	if want := "kernel = \"/c\"\n\nother = 1\n"; got != want {
		t.Errorf("replaceKey = %q, want %q", got, want)
	}
}

func TestDefaultsFor(t *testing.T) {
	tests := []struct {
		arch string
		want HostDefaults
	}{
		{"riscv64", HostDefaults{Accelerator: vc.AccelKVM, SharedFS: vc.SharedFSVirtioFS, AgentChannel: vc.ChannelVsock}},
		{"amd64", HostDefaults{Accelerator: vc.AccelTCG, SharedFS: vc.SharedFS9P, AgentChannel: vc.ChannelSerial}},
		{"arm64", HostDefaults{Accelerator: vc.AccelTCG, SharedFS: vc.SharedFS9P, AgentChannel: vc.ChannelSerial}},
	}
	for _, tt := range tests {
		if got := DefaultsFor(tt.arch); got != tt.want {
			t.Errorf("DefaultsFor(%q) = %+v, want %+v", tt.arch, got, tt.want)
		}
	}
	if o := DefaultOptions("/repo"); o.Accelerator != DefaultsFor(runtime.GOARCH).Accelerator {
		t.Errorf("DefaultOptions accelerator = %q, want this host's default", o.Accelerator)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"defaults", func(*Options) {}, ""},
		{"negative runs", func(o *Options) { o.ColdRuns = -1 }, "invalid run count"},
		{"accelerator", func(o *Options) { o.Accelerator = "hvf" }, "invalid accelerator"},
		{"shared fs", func(o *Options) { o.SharedFS = vc.SharedFSNone }, "invalid shared filesystem"},
		{"channel", func(o *Options) { o.AgentChannel = "tcp" }, "invalid agent channel"},
		{"timeout", func(o *Options) { o.RunTimeout = 0 }, "invalid timeouts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions("/repo")
			tt.change(&o)
			err := o.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("validate error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestFindAssetsNamesMakeTarget(t *testing.T) {
	repo := t.TempDir()
	o := DefaultOptions(repo)
	_, err := findAssets(o)
	if err == nil || !strings.Contains(err.Error(), "make guest") {
		t.Errorf("findAssets on an empty checkout = %v, want an error naming 'make guest'", err)
	}

	for _, f := range []string{o.Kernel, o.Initrd, o.ConfigTemplate} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = findAssets(o)
	if err == nil || !strings.Contains(err.Error(), "containerd-shim-kata-v2") || !strings.Contains(err.Error(), "make build") {
		t.Errorf("findAssets without the shim = %v, want an error naming the shim and 'make build'", err)
	}
}
