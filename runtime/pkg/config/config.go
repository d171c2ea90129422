// Package config finds, decodes and validates Kata's configuration.toml and
// hands typed configuration to the shim and the kata-runtime tool.
//
// The file follows upstream Kata's schema ([hypervisor.qemu],
// [hypervisor.firecracker], [agent.kata], [runtime]) with a few riscv64
// additions. Decoding is strict: a key that neither this runtime nor upstream
// reads is an error with its file and line. Upstream keys that mean nothing
// here are accepted and logged as ignored, so that upstream files load. Validation runs once and reports every problem of a file together.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// EnvConfFile names the environment variable that selects a configuration
// file when no explicit path is given.
const EnvConfFile = "KATA_CONF_FILE"

// DefaultPaths returns the configuration files looked up, in order, when
// neither an explicit path nor KATA_CONF_FILE is given: the administrator's
// file first, then the one the package installs.
func DefaultPaths() []string {
	return []string{
		"/etc/kata-containers/configuration.toml",
		"/usr/share/defaults/kata-containers/configuration.toml",
	}
}

// Config is a validated configuration file.
type Config struct {
	// Path is the file the configuration was read from.
	Path string

	HypervisorType vc.HypervisorType
	Hypervisor     vc.HypervisorConfig
	Agent          vc.AgentConfig
	Runtime        RuntimeConfig

	// MissingFiles lists configured files that do not exist, each an
	// ErrMissingFile problem. Only a lenient load returns them here; a strict
	// load fails on them instead.
	MissingFiles []*Problem
}

// InternetworkingModel is the way the VM is connected to the container network.
type InternetworkingModel string

// Internetworking models, as [runtime] internetworking_model spells them.
const (
	NetTCFilter InternetworkingModel = "tcfilter"
	NetMacvtap  InternetworkingModel = "macvtap"
	NetNone     InternetworkingModel = "none"
)

// RuntimeConfig is the validated [runtime] section.
type RuntimeConfig struct {
	EnableDebug          bool
	EnableTracing        bool
	InternetworkingModel InternetworkingModel
	// DisableGuestSeccomp keeps the agent from applying container seccomp
	// profiles in the guest; true unless the file sets it false.
	DisableGuestSeccomp bool
	SandboxCgroupOnly   bool
	// StaticSandboxResourceMgmt sizes the VM once at start from the
	// containers' requests. Always true on riscv64, because the virt machine
	// has no CPU or memory hot-plug.
	StaticSandboxResourceMgmt bool
	DisableNewNetNs           bool
	// CreateContainerTimeout bounds the agent's CreateContainer request.
	CreateContainerTimeout time.Duration
	EnablePprof            bool
	Experimental           []string
	// VfioMode is "guest-kernel" or "vfio".
	VfioMode string
	// SandboxBindMounts are host paths bind-mounted read-only into the
	// sandbox's shared directory.
	SandboxBindMounts    []string
	DisableGuestEmptyDir bool
	GuestSeLinuxLabel    string
}

// Loader finds and loads configuration files. Its zero value reads the real
// host and fails on missing files.
type Loader struct {
	// Root is prefixed to the default search paths and to every configured
	// file checked for existence; empty means "/". Tests point it at a
	// temporary tree. The explicit path and KATA_CONF_FILE are used as given.
	Root string
	// Getenv reads environment variables; nil means os.Getenv.
	Getenv func(string) string
	// Lenient moves missing files (ErrMissingFile problems) from the error to
	// Config.MissingFiles, so that kata-runtime check and env can report them
	// as findings. The shim loads strictly.
	Lenient bool
	// Log receives warnings about ignored keys; nil means logrus's standard
	// logger with source kata-runtime.
	Log *logrus.Entry
}

// Load finds the configuration file and loads it strictly; see Loader.Load.
func Load(explicit string) (*Config, error) {
	return Loader{}.Load(explicit)
}

// LoadFile loads the configuration file at path strictly.
func LoadFile(path string) (*Config, error) {
	return Loader{}.LoadFile(path)
}

// Find returns the configuration file to use: explicit when not empty (the
// --config flag or the shim's ConfigPath option), else KATA_CONF_FILE when
// set, else the first of DefaultPaths that exists under Root.
func (l Loader) Find(explicit string) (string, error) {
	if explicit != "" {
		if err := isRegularFile(explicit); err != nil {
			return "", fmt.Errorf("configuration file %s: %w; fix: pass the path of an existing configuration.toml", explicit, err)
		}
		return filepath.Abs(explicit)
	}

	if p := l.getenv(EnvConfFile); p != "" {
		if err := isRegularFile(p); err != nil {
			return "", fmt.Errorf("configuration file %s from %s: %w; fix: point %s at an existing configuration.toml or unset it", p, EnvConfFile, err, EnvConfFile)
		}
		return filepath.Abs(p)
	}

	defaults := DefaultPaths()
	for _, p := range defaults {
		full := l.hostPath(p)
		err := isRegularFile(full)
		if err == nil {
			return full, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("configuration file %s: %w", full, err)
		}
	}
	return "", fmt.Errorf("%w: looked for %s and %s; fix: install kata-riscv64's configuration.toml there, pass --config, or set %s",
		ErrNotFound, l.hostPath(defaults[0]), l.hostPath(defaults[1]), EnvConfFile)
}

// Load finds the configuration file (see Find) and loads it.
func (l Loader) Load(explicit string) (*Config, error) {
	path, err := l.Find(explicit)
	if err != nil {
		return nil, err
	}
	return l.LoadFile(path)
}

// LoadFile decodes and validates the file at path. The error is an *Error
// listing every problem when the file decodes but does not validate.
func (l Loader) LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading configuration file: %w", err)
	}

	cfg, err := l.load(path, data)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

func (l Loader) getenv(key string) string {
	if l.Getenv != nil {
		return l.Getenv(key)
	}
	return os.Getenv(key)
}

// hostPath maps an absolute host path to its place under Root.
func (l Loader) hostPath(p string) string {
	if l.Root == "" || l.Root == "/" {
		return p
	}
	return filepath.Join(l.Root, p)
}

func (l Loader) log() *logrus.Entry {
	if l.Log != nil {
		return l.Log
	}
	return logrus.WithFields(logrus.Fields{"source": "kata-runtime", "subsystem": "config"})
}

func isRegularFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", p)
	}
	return nil
}
