package check

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// moduleState is the place a kernel module was found: loaded, built in or nowhere.
type moduleState string

const (
	moduleLoaded  moduleState = "loaded"
	moduleBuiltin moduleState = "built in"
	moduleMissing moduleState = "missing"
)

// moduleNeed is how much the configuration depends on a module.
type moduleNeed int

const (
	moduleRequired moduleNeed = iota
	moduleOptional
	moduleUnused
)

type moduleSpec struct {
	name string
	need moduleNeed
	// purpose is the module's use, quoted in the check's reason.
	purpose string
}

// moduleSpecs lists the modules the configured VMM and agent channel need.
// Firecracker emulates its network and vsock devices in user space, so it
// uses none of the vhost modules.
func (e *environment) moduleSpecs() []moduleSpec {
	kvmNeed := moduleRequired
	if e.tcg() {
		kvmNeed = moduleOptional
	}
	specs := []moduleSpec{{"kvm", kvmNeed, "hardware virtualization"}}

	if e.hypervisorType() == vc.FirecrackerHypervisor {
		for _, m := range []string{"vhost", "vhost_net", "vhost_vsock"} {
			specs = append(specs, moduleSpec{m, moduleUnused, "Firecracker emulates its devices in user space"})
		}
		return specs
	}

	netNeed := moduleRequired
	if e.in.Hypervisor != nil && e.in.Hypervisor.DisableVhostNet {
		netNeed = moduleOptional
	}
	vsockNeed, vsockWhy := moduleOptional, "the vsock agent channel; without it the agent uses virtio-serial"
	switch e.agentChannel() {
	case vc.ChannelVsock:
		vsockNeed, vsockWhy = moduleRequired, "the configured vsock agent channel"
	case vc.ChannelSerial:
		vsockNeed, vsockWhy = moduleUnused, "the agent channel is virtio-serial"
	}
	return append(specs,
		moduleSpec{"vhost", moduleRequired, "the vhost device back ends"},
		moduleSpec{"vhost_net", netNeed, "vhost-net network devices"},
		moduleSpec{"vhost_vsock", vsockNeed, vsockWhy},
	)
}

func (e *environment) checkModules(ctx context.Context) []Check {
	loaded := e.loadedModules()
	builtin := e.builtinModules()

	var checks []Check
	for _, spec := range e.moduleSpecs() {
		c := Check{Name: "kernel module " + spec.name}
		state := e.moduleState(spec.name, loaded, builtin)

		var loadErr error
		if state == moduleMissing && e.in.LoadModules && spec.need != moduleUnused {
			if loadErr = e.host.Prober.LoadModule(ctx, spec.name); loadErr != nil {
				c.detail("modprobe", loadErr.Error())
			} else {
				state = e.moduleState(spec.name, e.loadedModules(), builtin)
				c.detail("modprobe", "loaded by --load-modules")
			}
		}

		c.detail("state", string(state))
		switch {
		case state != moduleMissing:
			c.Result = Pass
			c.Reason = fmt.Sprintf("%s is %s (%s)", spec.name, state, spec.purpose)
		case spec.need == moduleUnused:
			c.Result = Pass
			c.Reason = fmt.Sprintf("%s is missing and not needed: %s", spec.name, spec.purpose)
		case spec.need == moduleOptional:
			c.Result = Warn
			c.Reason = fmt.Sprintf("%s is missing (%s)", spec.name, spec.purpose)
			c.Fix = fmt.Sprintf("modprobe %s, or run kata-runtime check --load-modules", spec.name)
		default:
			c.Result = Fail
			c.Reason = fmt.Sprintf("%s is missing; it provides %s", spec.name, spec.purpose)
			c.Fix = fmt.Sprintf("modprobe %s, or run kata-runtime check --load-modules; if modprobe finds no such module, install a kernel built with it", spec.name)
		}
		if spec.name == "kvm" && state == moduleMissing && e.cpuErr == nil && !e.cpu.Hypervisor {
			c.Reason += "; the kernel does not load it on a CPU without the H extension"
			c.Fix = "use a riscv64 CPU with the H extension, or set accelerator = \"tcg\" in [hypervisor.qemu]"
		} else if loadErr != nil {
			c.Reason += fmt.Sprintf("; --load-modules could not load it: %v", loadErr)
			c.Fix = fmt.Sprintf("install the kernel modules package of kernel %s (and kmod for modprobe), or a kernel built with %s", e.host.Uname.Release, spec.name)
		}
		checks = append(checks, c)
	}
	return checks
}

// moduleState looks for a module in /proc/modules, then in modules.builtin,
// then in /sys/module, where built-in modules with parameters also appear
// (and all of them do on a kernel without loadable module support, which has
// no /proc/modules).
func (e *environment) moduleState(name string, loaded, builtin map[string]bool) moduleState {
	switch {
	case loaded[name]:
		return moduleLoaded
	case builtin[name]:
		return moduleBuiltin
	case e.host.exists("/sys/module/" + name):
		if loaded == nil {
			return moduleBuiltin
		}
		return moduleLoaded
	}
	return moduleMissing
}

// loadedModules returns the names in /proc/modules, or nil when the file is
// missing (a kernel without loadable module support).
func (e *environment) loadedModules() map[string]bool {
	data, err := e.host.readFile("/proc/modules")
	if err != nil {
		return nil
	}
	mods := map[string]bool{}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) > 0 {
			mods[f[0]] = true
		}
	}
	return mods
}

// builtinModules returns the modules listed in modules.builtin of the
// running kernel, under /lib/modules or /usr/lib/modules.
func (e *environment) builtinModules() map[string]bool {
	mods := map[string]bool{}
	if e.host.Uname.Release == "" {
		return mods
	}
	for _, dir := range []string{"/lib/modules/", "/usr/lib/modules/"} {
		data, err := e.host.readFile(dir + e.host.Uname.Release + "/modules.builtin")
		if err != nil {
			continue
		}
		s := bufio.NewScanner(bytes.NewReader(data))
		for s.Scan() {
			line := strings.TrimSpace(s.Text())
			if line == "" {
				continue
			}
			name := strings.TrimSuffix(path.Base(line), ".ko")
			mods[strings.ReplaceAll(name, "-", "_")] = true
		}
		return mods
	}
	return mods
}
