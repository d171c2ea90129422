package containerdshim

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/containerd/errdefs"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

func testConfig() *config.Config {
	return &config.Config{
		Path: "/etc/kata-containers/configuration.toml",
		Hypervisor: vc.HypervisorConfig{
			Path:                 "/usr/bin/qemu-system-riscv64",
			DefaultVCPUs:         1,
			DefaultMaxVCPUs:      4,
			MemoryMiB:            2048,
			EnableAnnotations:    []string{"kernel_params", "default_.*", "path", "enable_iommu"},
			ValidHypervisorPaths: []string{"/usr/bin/qemu-system-*"},
		},
	}
}

func TestApplyAnnotations(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		wantErr     string
		check       func(t *testing.T, cfg *config.Config)
	}{
		{
			name:        "other annotations ignored",
			annotations: map[string]string{"io.kubernetes.cri.container-type": "sandbox"},
			check: func(t *testing.T, cfg *config.Config) {
				if cfg.Hypervisor.MemoryMiB != 2048 {
					t.Errorf("memory = %d, want 2048 unchanged", cfg.Hypervisor.MemoryMiB)
				}
			},
		},
		{
			name:        "kernel params appended",
			annotations: map[string]string{hypervisorAnnotationPrefix + "kernel_params": "quiet loglevel=3"},
			check: func(t *testing.T, cfg *config.Config) {
				if got := strings.Join(cfg.Hypervisor.KernelParams, " "); got != "quiet loglevel=3" {
					t.Errorf("kernel params = %q, want %q", got, "quiet loglevel=3")
				}
			},
		},
		{
			name:        "vcpus and memory",
			annotations: map[string]string{hypervisorAnnotationPrefix + "default_vcpus": "2", hypervisorAnnotationPrefix + "default_memory": "512"},
			check: func(t *testing.T, cfg *config.Config) {
				if cfg.Hypervisor.DefaultVCPUs != 2 || cfg.Hypervisor.MemoryMiB != 512 {
					t.Errorf("vcpus, memory = %d, %d; want 2, 512", cfg.Hypervisor.DefaultVCPUs, cfg.Hypervisor.MemoryMiB)
				}
			},
		},
		{
			name:        "vcpus above max",
			annotations: map[string]string{hypervisorAnnotationPrefix + "default_vcpus": "8"},
			wantErr:     "default_maxvcpus",
		},
		{
			name:        "path inside valid paths",
			annotations: map[string]string{hypervisorAnnotationPrefix + "path": "/usr/bin/qemu-system-riscv64-debug"},
			check: func(t *testing.T, cfg *config.Config) {
				if cfg.Hypervisor.Path != "/usr/bin/qemu-system-riscv64-debug" {
					t.Errorf("path = %s", cfg.Hypervisor.Path)
				}
			},
		},
		{
			name:        "path outside valid paths",
			annotations: map[string]string{hypervisorAnnotationPrefix + "path": "/tmp/evil"},
			wantErr:     "valid_hypervisor_paths",
		},
		{
			name:        "not enabled",
			annotations: map[string]string{hypervisorAnnotationPrefix + "virtio_fs_daemon": "/usr/libexec/virtiofsd"},
			wantErr:     "add \"virtio_fs_daemon\" to enable_annotations",
		},
		{
			name:        "unknown hypervisor annotation",
			annotations: map[string]string{hypervisorAnnotationPrefix + "no_such_key": "1"},
			wantErr:     "not supported",
		},
		{
			name:        "unknown runtime annotation",
			annotations: map[string]string{annotationPrefix + "runtime.experimental": "x"},
			wantErr:     "not supported",
		},
		{
			name:        "iommu rejected on riscv64",
			annotations: map[string]string{hypervisorAnnotationPrefix + "enable_iommu": "true"},
			wantErr:     "vIOMMU",
		},
		{
			name:        "agent kernel modules",
			annotations: map[string]string{agentAnnotationPrefix + "kernel_modules": "e1000e InterruptThrottleRate=3000;i915"},
			check: func(t *testing.T, cfg *config.Config) {
				want := []string{"e1000e InterruptThrottleRate=3000", "i915"}
				if strings.Join(cfg.Agent.KernelModules, "|") != strings.Join(want, "|") {
					t.Errorf("kernel modules = %q, want %q", cfg.Agent.KernelModules, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			err := applyAnnotations(cfg, tt.annotations)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("error %v is not InvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("applyAnnotations: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

func TestAnnotationEnabledMatchesWholeName(t *testing.T) {
	if annotationEnabled([]string{"kernel"}, "kernel_params") {
		t.Error("pattern kernel matched kernel_params; patterns must match the whole name")
	}
	if !annotationEnabled([]string{"kernel.*"}, "kernel_params") {
		t.Error("pattern kernel.* did not match kernel_params")
	}
	if annotationEnabled([]string{"("}, "(") {
		t.Error("an invalid pattern matched")
	}
}
