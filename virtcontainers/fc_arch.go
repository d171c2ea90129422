package virtcontainers

// fcArch is the set of rules of the host architecture's Firecracker build.
// fc_riscv64.go implements it for the riscv64 port, and fc_arch_other.go for
// the other architectures.
type fcArch interface {
	// checkBootAssets rejects a kernel or initrd that this Firecracker
	// build cannot boot, naming the file and what to use instead.
	checkBootAssets(kernelPath, initrdPath string) error

	// kernelParams returns the guest kernel parameters the runtime adds,
	// before the user's kernel_params.
	kernelParams(p fcKernelParams) []string

	// interruptSources returns how many devices (virtio-mmio devices and
	// the serial port) the VMM's interrupt controller can serve, or 0 when
	// the build has no limit this backend can reach.
	interruptSources() int

	// maxCmdline returns the longest kernel command line, in bytes without
	// the NUL, that the VMM accepts.
	maxCmdline() int

	// hasSerial reports whether the VMM adds a serial port, which takes an
	// interrupt source, given whether the kernel command line has console=.
	hasSerial(console bool) bool
}

// fcKernelParams is the input of fcArch.kernelParams.
type fcKernelParams struct {
	// Debug enables the serial console.
	Debug bool
	// RootDevice is the guest image's device or partition, e.g. /dev/vda1.
	RootDevice string
	// RootfsType is the guest image's filesystem: ext4, xfs or erofs.
	RootfsType string
	Agent      AgentConfig
}

// rootParams returns the parameters that mount the read-only guest image as
// the root filesystem.
func (p fcKernelParams) rootParams() []string {
	fsType := p.RootfsType
	if fsType == "" {
		fsType = "ext4"
	}
	params := []string{"root=" + p.RootDevice, "rootfstype=" + fsType, "ro"}
	if fsType == "ext4" {
		params = append(params, "rootflags=data=ordered,errors=remount-ro")
	}
	return params
}

// agentParams returns the kata-agent's parameters from [agent.kata].
func (p fcKernelParams) agentParams() []string {
	var params []string
	if p.Agent.EnableDebug {
		params = append(params, "agent.log=debug")
	}
	if p.Agent.EnableTracing {
		params = append(params, "agent.trace=true")
	}
	if p.Agent.DebugConsoleEnabled {
		params = append(params, "agent.debug_console", "agent.debug_console_vport=1026")
	}
	return params
}
