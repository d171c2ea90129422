package distro

// Kind is the init system of a guest.
type Kind int

const (
	// Systemd guests boot systemd, which starts kata-agent.service.
	Systemd Kind = iota
	// AgentInit guests run the agent as PID 1; they need no init system.
	AgentInit
)

func (k Kind) String() string {
	if k == AgentInit {
		return "agent-init"
	}
	return "systemd"
}

// OCIRuntime is the guest's OCI runtime package. crun is a third the size
// of runc and needs no Go runtime of its own.
const OCIRuntime = "crun"

// Packages returns the packages installed on top of the mmdebstrap variant
// for kind. Their dependencies come along.
func Packages(k Kind) []string {
	if k == AgentInit {
		// The agent is init and mounts what it needs itself; the OCI runtime
		// and its libraries are all that is left to install.
		return []string{OCIRuntime}
	}
	// systemd-sysv provides /sbin/init; kmod provides modprobe for
	// systemd-modules-load and the kernel's request_module calls.
	return []string{"systemd", "systemd-sysv", OCIRuntime, "kmod"}
}

// Variant returns the mmdebstrap variant for kind.
func Variant(k Kind) string {
	if k == AgentInit {
		// extract unpacks the packages without running maintainer scripts:
		// with no init system and no package manager in the guest there is
		// nothing for them to configure.
		return "extract"
	}
	// essential installs only Essential:yes packages (dpkg, coreutils, bash)
	// before the includes; apt and the rest of "required" stay out.
	return "essential"
}

// ExcludedPaths are dpkg path-exclude patterns: documentation and
// translations that no sandbox reads.
var ExcludedPaths = []string{
	"/usr/share/doc/*",
	"/usr/share/man/*",
	"/usr/share/info/*",
	"/usr/share/locale/*",
	"/usr/share/lintian/*",
}
