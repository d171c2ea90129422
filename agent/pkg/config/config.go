// Package config reads the agent's settings from the kernel command line,
// where the runtime puts them as agent.* parameters.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
)

// Kernel command line parameters the agent reads.
const (
	ParamServerAddr   = "agent.server_addr"
	ParamLog          = "agent.log"
	ParamDebugConsole = "agent.debug_console"
	ParamLogVport     = "agent.log_vport"
	ParamOCIRuntime   = "agent.oci_runtime"
)

// Defaults of the settings.
const (
	// DefaultVsockAddr listens on port 1024 for any CID, as upstream's agent does.
	DefaultVsockAddr = "vsock://-1:1024"
	// DefaultSerialPort is the virtio-serial port QEMU names agent.channel.0.
	DefaultSerialPort = "/dev/virtio-ports/agent.channel.0"
)

// Config is the agent's settings from the kernel command line.
type Config struct {
	// ServerAddr is the listening address: vsock://CID:PORT (CID -1 for
	// any), unix:///path, or serial:///dev/... for a virtio-serial port.
	// Empty selects the channel from the devices the guest has.
	ServerAddr string
	LogLevel   logrus.Level
	// DebugConsole and LogVport are accepted for upstream compatibility;
	// this agent has no debug console and logs to the console only.
	DebugConsole bool
	LogVport     uint32
	// OCIRuntime is "runc", "crun" or a path; empty prefers crun.
	OCIRuntime string
	// Ignored lists agent.* parameters this agent does not know.
	Ignored []string
}

// ReadFile parses the kernel command line in path, /proc/cmdline in the guest.
func ReadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the kernel command line: %w", err)
	}
	return Parse(string(data))
}

// Parse parses a kernel command line.
func Parse(cmdline string) (Config, error) {
	cfg := Config{LogLevel: logrus.InfoLevel}
	for _, field := range strings.Fields(cmdline) {
		key, value, _ := strings.Cut(field, "=")
		if !strings.HasPrefix(key, "agent.") {
			continue
		}
		switch key {
		case ParamServerAddr:
			cfg.ServerAddr = value
		case ParamLog:
			level, err := logrus.ParseLevel(value)
			if err != nil {
				return Config{}, fmt.Errorf("invalid %s=%q: use debug, info, warn or error: %w", ParamLog, value, err)
			}
			cfg.LogLevel = level
		case ParamDebugConsole:
			cfg.DebugConsole = value == "" || value == "1" || value == "true"
		case ParamLogVport:
			port, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return Config{}, fmt.Errorf("invalid %s=%q: %w", ParamLogVport, value, err)
			}
			cfg.LogVport = uint32(port)
		case ParamOCIRuntime:
			cfg.OCIRuntime = value
		default:
			cfg.Ignored = append(cfg.Ignored, field)
		}
	}
	return cfg, nil
}
