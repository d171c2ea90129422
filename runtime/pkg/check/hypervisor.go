package check

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/qemucaps"
)

// coveredKeySuffixes are the configuration keys whose files the hypervisor and
// guest asset checks examine themselves.
var coveredKeySuffixes = []string{".path", ".kernel", ".image", ".initrd", ".firmware"}

func (e *environment) checkConfiguration() Check {
	c := Check{Name: "configuration"}
	if e.in.ConfigErr != nil {
		c.Result = Fail
		c.Reason = fmt.Sprintf("no usable configuration: %v", e.in.ConfigErr)
		c.Fix = "install configs/configuration-qemu.toml as /etc/kata-containers/configuration.toml, or pass --config FILE; the host checks above ran without it"
		return c
	}

	c.detail("file", e.in.ConfigPath)
	c.detail("hypervisor", string(e.hypervisorType()))
	var other []string
	for _, p := range e.in.MissingFiles {
		covered := false
		for _, s := range coveredKeySuffixes {
			covered = covered || strings.HasSuffix(p.Key, s)
		}
		if covered {
			continue
		}
		msg := fmt.Sprintf("%s = %s: %s", p.Key, p.Value, p.Reason)
		if p.Fix != "" {
			msg += " (fix: " + p.Fix + ")"
		}
		other = append(other, msg)
		c.detail("missing file", msg)
	}
	if len(other) > 0 {
		c.Result = Fail
		c.Reason = fmt.Sprintf("%s names files that do not exist: %s", e.in.ConfigPath, strings.Join(other, "; "))
		c.Fix = "install the missing files or correct the keys in " + e.in.ConfigPath
		return c
	}
	c.Result = Pass
	c.Reason = fmt.Sprintf("loaded %s (hypervisor %s)", e.in.ConfigPath, e.hypervisorType())
	return c
}

func (e *environment) checkHypervisor(ctx context.Context) Check {
	hc := e.in.Hypervisor
	c := Check{Name: "hypervisor " + string(e.hypervisorType())}
	if hc.Path == "" {
		c.Result = Fail
		c.Reason = "no VMM binary is configured"
		c.Fix = fmt.Sprintf("set path in [hypervisor.%s]", e.hypervisorType())
		return c
	}
	c.detail("path", hc.Path)
	if st, err := os.Stat(hc.Path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		c.Result = Fail
		c.Reason = fmt.Sprintf("%s is not an executable file", hc.Path)
		if err != nil {
			c.Reason = describeFileError(hc.Path, err)
		}
		c.Fix = fmt.Sprintf("install the VMM or correct path in [hypervisor.%s]", e.hypervisorType())
		return c
	}

	if e.hypervisorType() == vc.FirecrackerHypervisor {
		return e.checkFirecracker(ctx, c)
	}
	return e.checkQEMU(ctx, c)
}

func (e *environment) checkQEMU(ctx context.Context, c Check) Check {
	hc := e.in.Hypervisor
	caps, err := e.host.Prober.QEMU(ctx, hc.Path)
	if err != nil {
		c.Result = Fail
		c.Reason = fmt.Sprintf("cannot probe QEMU: %v", err)
		c.Fix = "run the binary by hand to see why it fails, or install qemu-system-riscv64"
		return c
	}
	c.detail("version", caps.VersionLine)
	c.detail("aia modes", strings.Join(caps.AIAModes, ", "))
	c.detail("seccomp", fmt.Sprint(caps.Seccomp))

	if err := caps.CheckMinVersion(); err != nil {
		c.Result = Fail
		c.Reason = err.Error()
		c.Fix = fmt.Sprintf("install QEMU %s or later", qemucaps.MinVersion)
		return c
	}

	aia := hc.AIA
	if aia == "" {
		aia = vc.AIAAuto
	}
	switch {
	case aia != vc.AIAAuto && len(caps.AIAModes) == 0:
		c.Result = Fail
		c.Reason = fmt.Sprintf("aia = %q is configured, but QEMU %s has no aia property on the virt machine", aia, caps.Version)
		c.Fix = "set aia = \"auto\" in [hypervisor.qemu], or install a newer QEMU"
		return c
	case aia != vc.AIAAuto && !caps.SupportsAIA(string(aia)):
		c.Result = Fail
		c.Reason = fmt.Sprintf("aia = %q is configured, but QEMU %s accepts only %s", aia, caps.Version, strings.Join(caps.AIAModes, ", "))
		c.Fix = "set aia = \"auto\" or one of the accepted values in [hypervisor.qemu]"
		return c
	}

	c.Result = Pass
	c.Reason = fmt.Sprintf("QEMU %s (minimum %s), aia = %q", caps.Version, qemucaps.MinVersion, aia)
	kvmAccel := !e.tcg()
	switch {
	case kvmAccel && aia == vc.AIAAPLICIMSIC && e.kvm != nil && e.kvm.VMCreated && !e.kvm.AIAIrqchip:
		c.Result = Fail
		c.Reason += "; aia = \"aplic-imsic\" under KVM needs KVM's in-kernel AIA irqchip, which this host lacks (see the kvm aia irqchip check)"
		c.Fix = "set aia = \"auto\" or \"none\" in [hypervisor.qemu]"
	case kvmAccel && (aia == vc.AIAAPLIC || aia == vc.AIAAPLICIMSIC) && caps.Version.Less(qemucaps.KVMAIAVersion):
		c.Result = Warn
		c.Reason += fmt.Sprintf("; QEMU before %s does not use KVM's in-kernel AIA, so aia = %q under KVM may not work", qemucaps.KVMAIAVersion, aia)
		c.Fix = "set aia = \"auto\" or \"none\" in [hypervisor.qemu], or install QEMU 8.2 or later"
	case !kvmAccel && aia == vc.AIAAPLICIMSIC && caps.Version.Major == 7:
		// NOTE: seen with QEMU 7.2.22 and Debian's 6.12 kernel (RCU stalls,
		// no init); other 7.x releases and newer QEMU were not tried.
		c.Result = Warn
		c.Reason += "; under TCG, QEMU 7.2 with aia = \"aplic-imsic\" hangs Linux 6.12 guests at boot"
		c.Fix = "set aia = \"aplic\" or \"auto\" in [hypervisor.qemu]"
	}
	return c
}

var firecrackerVersionRE = regexp.MustCompile(`Firecracker v(\d+\.\d+\.\d+\S*)`)

func (e *environment) checkFirecracker(ctx context.Context, c Check) Check {
	out, err := e.host.Prober.FirecrackerVersion(ctx, e.in.Hypervisor.Path)
	if err != nil {
		c.Result = Fail
		c.Reason = fmt.Sprintf("cannot run Firecracker: %v", err)
		c.Fix = "install a riscv64 build of Firecracker or correct path in [hypervisor.firecracker]"
		return c
	}
	m := firecrackerVersionRE.FindStringSubmatch(out)
	if m == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
		c.Result = Fail
		c.Reason = fmt.Sprintf("%s --version printed %q, not a Firecracker version", e.in.Hypervisor.Path, first)
		c.Fix = "point path in [hypervisor.firecracker] at the firecracker binary"
		return c
	}
	c.detail("version", "v"+m[1])
	c.Result = Pass
	c.Reason = fmt.Sprintf("Firecracker v%s", m[1])
	// NOTE: Firecracker has no released riscv64 build, so no minimum version
	// is enforced; the KVM AIA irqchip check covers what its port needs.
	return c
}
