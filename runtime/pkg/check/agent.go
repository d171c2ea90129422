package check

import (
	"fmt"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

// agentChannel returns the configured agent channel, auto when unset.
func (e *environment) agentChannel() vc.AgentChannel {
	if e.in.Agent == nil || e.in.Agent.Channel == "" {
		return vc.ChannelAuto
	}
	return e.in.Agent.Channel
}

func (e *environment) checkAgentChannel() Check {
	c := Check{Name: "agent channel"}
	channel := e.agentChannel()
	c.detail("configured", string(channel))

	if e.hypervisorType() == vc.FirecrackerHypervisor {
		if channel == vc.ChannelSerial {
			c.Result = Fail
			c.Reason = "the agent channel is serial, but Firecracker has no virtio-serial device"
			c.Fix = "set the agent channel to vsock (Firecracker's hybrid vsock over a Unix socket) or auto"
			return c
		}
		c.Result = Pass
		c.Reason = "Firecracker's hybrid vsock over a Unix socket, which needs no host device"
		return c
	}

	if channel == vc.ChannelSerial {
		c.Result = Pass
		c.Reason = "virtio-serial, as configured"
		return c
	}

	dev := e.host.path("/dev/vhost-vsock")
	r, err := e.host.Prober.VhostVsock(dev)
	switch {
	case err == nil:
		c.Result = Pass
		c.Reason = fmt.Sprintf("vsock: %s is usable", dev)
		if r.FeaturesError != nil {
			c.detail("features", r.FeaturesError.Error())
		} else {
			c.detail("features", fmt.Sprintf("%#x", r.Features))
		}
	case channel == vc.ChannelVsock:
		c.Result = Fail
		c.Reason = fmt.Sprintf("the agent channel is vsock, but %s is not usable: %v", dev, err)
		c.Fix = "modprobe vhost_vsock (or run with --load-modules), or set the agent channel to serial or auto"
	default:
		c.Result = Warn
		c.Reason = fmt.Sprintf("%s is not usable (%v), so the agent channel falls back to virtio-serial", dev, err)
		c.Fix = "modprobe vhost_vsock for the faster vsock channel"
	}
	return c
}
