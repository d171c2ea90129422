package containerdshim

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// Annotation prefixes of upstream Kata.
const (
	annotationPrefix           = "io.katacontainers.config."
	hypervisorAnnotationPrefix = annotationPrefix + "hypervisor."
	agentAnnotationPrefix      = annotationPrefix + "agent."
)

// hypervisorAnnotation applies one io.katacontainers.config.hypervisor.*
// value to the hypervisor configuration.
type hypervisorAnnotation func(h *vc.HypervisorConfig, value string) error

// hypervisorAnnotations are the hypervisor annotations this runtime honours.
// Each must also match an enable_annotations entry of the configuration.
var hypervisorAnnotations = map[string]hypervisorAnnotation{
	"kernel_params": func(h *vc.HypervisorConfig, v string) error {
		h.KernelParams = append(h.KernelParams, strings.Fields(v)...)
		return nil
	},
	"path": func(h *vc.HypervisorConfig, v string) error {
		if err := checkGlobs("path", v, h.ValidHypervisorPaths, "valid_hypervisor_paths"); err != nil {
			return err
		}
		h.Path = v
		return nil
	},
	"jailer_path": func(h *vc.HypervisorConfig, v string) error {
		if err := checkGlobs("jailer_path", v, h.ValidJailerPaths, "valid_jailer_paths"); err != nil {
			return err
		}
		h.JailerPath = v
		return nil
	},
	"virtio_fs_daemon": func(h *vc.HypervisorConfig, v string) error {
		if err := checkGlobs("virtio_fs_daemon", v, h.ValidVirtioFSDaemonPaths, "valid_virtio_fs_daemon_paths"); err != nil {
			return err
		}
		h.VirtioFSDaemon = v
		return nil
	},
	"entropy_source": func(h *vc.HypervisorConfig, v string) error {
		if err := checkGlobs("entropy_source", v, h.ValidEntropySources, "valid_entropy_sources"); err != nil {
			return err
		}
		h.EntropySource = v
		return nil
	},
	"default_vcpus": func(h *vc.HypervisorConfig, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 || (h.DefaultMaxVCPUs > 0 && uint32(n) > h.DefaultMaxVCPUs) {
			return fmt.Errorf("default_vcpus %q: want a whole number from 1 to default_maxvcpus (%d)", v, h.DefaultMaxVCPUs)
		}
		h.DefaultVCPUs = uint32(n)
		return nil
	},
	"default_memory": func(h *vc.HypervisorConfig, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n < 64 {
			return fmt.Errorf("default_memory %q: want a size in MiB of at least 64", v)
		}
		h.MemoryMiB = uint32(n)
		return nil
	},
	"enable_iommu": func(h *vc.HypervisorConfig, v string) error {
		if v == "true" {
			return fmt.Errorf("enable_iommu: %w: the riscv64 virt machine has no vIOMMU for guests", vc.ErrNotSupported)
		}
		return nil
	},
}

// applyAnnotations applies the io.katacontainers.config.* annotations of
// the sandbox's spec to cfg. Hypervisor annotations must be allowed by
// enable_annotations, and paths must match the configuration's valid_*
// globs. Anything else is an error naming the annotation and the fix, so a
// pod never runs with a setting other than the one it requested.
func applyAnnotations(cfg *config.Config, annotations map[string]string) error {
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		if strings.HasPrefix(k, annotationPrefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)

	for _, key := range keys {
		value := annotations[key]
		switch {
		case strings.HasPrefix(key, hypervisorAnnotationPrefix):
			name := strings.TrimPrefix(key, hypervisorAnnotationPrefix)
			apply, ok := hypervisorAnnotations[name]
			if !ok {
				return invalidArgument("annotation %s is not supported by this runtime", key)
			}
			if !annotationEnabled(cfg.Hypervisor.EnableAnnotations, name) {
				return invalidArgument("annotation %s is not enabled: add %q to enable_annotations in %s to allow it", key, name, cfg.Path)
			}
			if err := apply(&cfg.Hypervisor, value); err != nil {
				return invalidArgument("annotation %s: %v", key, err)
			}
		case key == agentAnnotationPrefix+"kernel_modules":
			// Upstream separates modules, each with its parameters, by ';'.
			for _, m := range strings.Split(value, ";") {
				if m = strings.TrimSpace(m); m != "" {
					cfg.Agent.KernelModules = append(cfg.Agent.KernelModules, m)
				}
			}
		default:
			return invalidArgument("annotation %s is not supported by this runtime", key)
		}
	}
	return nil
}

// annotationEnabled reports whether name matches one of the enable_annotations
// regular expressions, each matched against the whole name.
func annotationEnabled(patterns []string, name string) bool {
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			continue // the configuration loader rejects invalid patterns
		}
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// checkGlobs returns an error unless value matches one of globs.
func checkGlobs(name, value string, globs []string, key string) error {
	for _, g := range globs {
		if ok, err := filepath.Match(g, value); err == nil && ok {
			return nil
		}
	}
	return fmt.Errorf("%s %q is not in %s %v; add it there to allow it", name, value, key, globs)
}
