// Package check decides whether a host can run Kata Containers on riscv64.
// Each check returns data (name, result, reason, fix, details) rather than
// log lines, so that kata-runtime check prints them for people or as JSON
// and tests compare them.
//
// Checks read the host through a Host: /proc, /sys, /dev and /lib/modules are
// resolved under Host.Root, and ioctls and external programs go through its
// Prober, so tests point both at fakes.
package check

import (
	"context"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// Result is the verdict of one check.
type Result string

// Check results. Only Fail makes the host incapable, and Warn never changes
// the exit code.
const (
	Pass Result = "pass"
	Warn Result = "warn"
	Fail Result = "fail"
)

// Detail is one fact a check found, such as the CPU vendor.
type Detail struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Check is the outcome of one host check.
type Check struct {
	// Name identifies the check ("cpu", "kernel module vhost_vsock").
	Name   string `json:"name"`
	Result Result `json:"result"`
	// Reason is the finding, and Fix the remedy when the result is not Pass.
	Reason  string   `json:"reason"`
	Fix     string   `json:"fix,omitempty"`
	Details []Detail `json:"details,omitempty"`
}

func (c *Check) detail(key, value string) {
	c.Details = append(c.Details, Detail{key, value})
}

// ConfigProblem is a configured file that a lenient configuration load
// found missing, with the key that names it.
type ConfigProblem struct {
	Key    string
	Value  string
	Reason string
	Fix    string
}

// Input is the configuration the checks hold the host against.
type Input struct {
	// ConfigPath is the configuration file that was loaded or looked for.
	// ConfigErr is set when no configuration could be loaded, and then
	// Hypervisor and Agent are nil.
	ConfigPath string
	ConfigErr  error

	HypervisorType vc.HypervisorType
	Hypervisor     *vc.HypervisorConfig
	Agent          *vc.AgentConfig

	// MissingFiles are the configured files a lenient load found missing.
	MissingFiles []ConfigProblem

	// LoadModules allows the module checks to run modprobe for a missing
	// kernel module. Without it no module is ever loaded.
	LoadModules bool
}

// Report is the outcome of Run.
type Report struct {
	Checks []Check `json:"checks"`
	// Capable is true when no check failed.
	Capable bool `json:"capable"`
	// CanCreate is true when KVM created a VM and a vCPU, which upstream
	// Kata reports as "System can currently create Kata Containers".
	CanCreate bool `json:"can_create"`
	// Skipped explains why the host checks stopped early, if they did.
	Skipped string `json:"skipped,omitempty"`
}

// ExitCode returns the exit code of kata-runtime check: 1 when a check
// failed, else 0.
func (r *Report) ExitCode() int {
	if r.Capable {
		return 0
	}
	return 1
}

// Run runs every check against host and in. On a host that is not riscv64 it
// stops after the architecture check, because the others test riscv64
// hardware and their results there would mislead.
func Run(ctx context.Context, host *Host, in Input) *Report {
	r := &Report{}

	arch := checkArchitecture(host)
	r.Checks = append(r.Checks, arch.Check)
	if arch.Result == Fail {
		r.Skipped = "the other checks were not run, because they test riscv64 hardware"
		r.finish()
		return r
	}

	env := &environment{host: host, in: in}
	env.loadCPU()
	// The module checks run before the KVM probe because --load-modules may
	// load kvm and so create /dev/kvm. They are listed after the KVM checks.
	modules := env.checkModules(ctx)
	env.probeKVM()

	r.Checks = append(r.Checks, env.checkCPU(), env.checkKVM(), env.checkKVMAIA())
	if c, ok := env.checkKVMPMU(); ok {
		r.Checks = append(r.Checks, c)
	}
	r.Checks = append(r.Checks, modules...)
	r.Checks = append(r.Checks, env.checkConfiguration())
	if in.Hypervisor != nil {
		r.Checks = append(r.Checks, env.checkHypervisor(ctx))
		r.Checks = append(r.Checks, env.checkAssets()...)
	}
	r.Checks = append(r.Checks, env.checkAgentChannel(), env.checkNestedHost())

	r.CanCreate = env.kvm != nil && env.kvm.VCPUCreated
	r.finish()
	return r
}

func (r *Report) finish() {
	r.Capable = true
	for _, c := range r.Checks {
		if c.Result == Fail {
			r.Capable = false
		}
	}
}
