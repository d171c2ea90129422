package virtcontainers

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Host files of one VM, all inside its directory <run root>/<id>/.
const (
	qmpSocketName       = "qmp.sock"
	consoleSocketName   = "console.sock"
	consoleLogName      = "console.log"
	agentSocketName     = "agent.sock"
	pidFileName         = "pid"
	virtiofsdSocketName = "virtiofsd.sock"
)

// agentSerialPortName is the virtio-serial port name the agent looks for
// when there is no vsock, the same as upstream Kata's.
const agentSerialPortName = "agent.channel.0"

// seccompSandboxOption is QEMU's -sandbox value: its own syscall filter, with
// obsolete calls, privilege changes, process spawning and resource control
// denied. QEMU needs none of them for a sandbox VM.
const seccompSandboxOption = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

// vmPaths are the host files of one VM.
type vmPaths struct {
	dir        string
	qmp        string
	console    string
	consoleLog string
	agent      string
	pid        string
	virtiofsd  string
}

func newVMPaths(runRoot, id string) vmPaths {
	dir := filepath.Join(runRoot, id)
	return vmPaths{
		dir:        dir,
		qmp:        filepath.Join(dir, qmpSocketName),
		console:    filepath.Join(dir, consoleSocketName),
		consoleLog: filepath.Join(dir, consoleLogName),
		agent:      filepath.Join(dir, agentSocketName),
		pid:        filepath.Join(dir, pidFileName),
		virtiofsd:  filepath.Join(dir, virtiofsdSocketName),
	}
}

// qemuLaunch is everything the QEMU command line is built from, resolved and
// validated: building it does no I/O, so golden tests cover every variant.
type qemuLaunch struct {
	id      string
	machine virtMachine
	paths   vmPaths

	kernel       string
	image        string
	initrd       string
	kernelParams []string

	debug        bool
	legacySerial bool
	seccomp      bool

	channel  AgentChannel
	guestCID uint32
	// vhostFD is the child's descriptor of an open /dev/vhost-vsock whose
	// CID is already set, or -1 to let QEMU open the device itself.
	vhostFD int

	sharedDir     string
	entropySource string
	// rootPorts is the number of pcie-root-ports for hot-plug.
	rootPorts uint32
}

// Device and object ids on the QEMU command line, and the QMP names that
// hot-plug refers to.
const (
	consoleChardevID = "console0"
	serialBusID      = "serial0"
	imageDriveID     = "image0"
	agentChardevID   = "agent0"
	vsockDeviceID    = "vsock0"
	sharedFSDeviceID = "fs0"
	rngObjectID      = "rng0"
	memoryBackendID  = "mem0"
	rootPortPrefix   = "rp"
	pcieRootBus      = "pcie.0"
)

// virtioDevice returns the QEMU device name of a virtio device for the
// transport: the -pci variant on PCIe, the -device variant on virtio-mmio.
func virtioDevice(base string, transport VirtioTransport) string {
	if transport == VirtioMMIO {
		return base + "-device"
	}
	return base + "-pci"
}

// args returns the QEMU command line, without the binary.
func (l qemuLaunch) args() []string {
	m := l.machine
	var a []string
	add := func(opt ...string) { a = append(a, opt...) }

	add("-name", "sandbox-"+l.id)

	memoryBackend := ""
	if m.sharedFS == SharedFSVirtioFS {
		// vhost-user-fs needs guest RAM that virtiofsd can map.
		memoryBackend = memoryBackendID
	}
	add("-machine", m.machineOption(memoryBackend))
	add("-cpu", m.cpu)
	add("-smp", fmt.Sprint(m.vcpus))
	add("-m", fmt.Sprintf("%dM", m.memoryMiB))
	if memoryBackend != "" {
		add("-object", fmt.Sprintf("memory-backend-memfd,id=%s,size=%dM,share=on", memoryBackendID, m.memoryMiB))
	}
	add("-bios", m.firmware)

	add("-kernel", l.kernel)
	if l.initrd != "" {
		add("-initrd", l.initrd)
	}
	add("-append", strings.Join(l.kernelParams, " "))

	add("-nodefaults", "-no-user-config", "-nographic", "-no-reboot")
	if l.seccomp {
		add("-sandbox", seccompSandboxOption)
	}
	add("-pidfile", l.paths.pid)
	add("-qmp", "unix:"+l.paths.qmp+",server=on,wait=off")

	add(l.consoleArgs()...)

	if m.transport == VirtioPCI {
		for i := range l.rootPorts {
			add("-device", fmt.Sprintf("pcie-root-port,id=%s%d,bus=%s,chassis=%d,addr=0x%x", rootPortPrefix, i, pcieRootBus, i+1, firstRootPortPCISlot+int(i)))
		}
	}

	if l.image != "" {
		add("-drive", fmt.Sprintf("id=%s,file=%s,format=raw,if=none,readonly=on", imageDriveID, l.image))
		add("-device", fmt.Sprintf("%s,drive=%s,id=%sdev", virtioDevice("virtio-blk", m.transport), imageDriveID, imageDriveID))
	}

	add(l.agentArgs()...)
	add(l.sharedFSArgs()...)

	add("-object", fmt.Sprintf("rng-random,id=%s,filename=%s", rngObjectID, l.entropySource))
	add("-device", fmt.Sprintf("%s,rng=%s,id=%sdev", virtioDevice("virtio-rng", m.transport), rngObjectID, rngObjectID))

	return a
}

// needsVirtioSerial reports whether a virtio-serial controller is needed:
// for the hvc0 console or for the agent's serial port.
func (l qemuLaunch) needsVirtioSerial() bool {
	return !l.legacySerial || l.channel == ChannelSerial
}

// consoleArgs connect the guest console to the console socket. QEMU connects
// to it as a client: the backend listens before QEMU starts, so no output is
// lost. The hvc0 console is a virtconsole port. In debug mode the ns16550
// UART shares the socket through a multiplexer too, because earlycon=sbi
// output goes to the UART through the SBI firmware.
func (l qemuLaunch) consoleArgs() []string {
	var a []string
	chardev := fmt.Sprintf("socket,id=%s,path=%s", consoleChardevID, l.paths.console)
	uart := l.legacySerial || l.debug
	if uart && !l.legacySerial {
		chardev += ",mux=on"
	}
	a = append(a, "-chardev", chardev)

	if uart {
		a = append(a, "-serial", "chardev:"+consoleChardevID)
	}
	if l.needsVirtioSerial() {
		a = append(a, "-device", fmt.Sprintf("%s,id=%s", virtioDevice("virtio-serial", l.machine.transport), serialBusID))
	}
	if !l.legacySerial {
		a = append(a, "-device", fmt.Sprintf("virtconsole,chardev=%s,id=%sdev,bus=%s.0", consoleChardevID, consoleChardevID, serialBusID))
	}
	return a
}

func (l qemuLaunch) agentArgs() []string {
	switch l.channel {
	case ChannelVsock:
		dev := fmt.Sprintf("%s,id=%s,guest-cid=%d", virtioDevice("vhost-vsock", l.machine.transport), vsockDeviceID, l.guestCID)
		if l.vhostFD >= 0 {
			dev += fmt.Sprintf(",vhostfd=%d", l.vhostFD)
		}
		return []string{"-device", dev}
	case ChannelSerial:
		return []string{
			"-chardev", fmt.Sprintf("socket,id=%s,path=%s,server=on,wait=off", agentChardevID, l.paths.agent),
			"-device", fmt.Sprintf("virtserialport,chardev=%s,id=%sdev,name=%s,bus=%s.0", agentChardevID, agentChardevID, agentSerialPortName, serialBusID),
		}
	}
	return nil
}

func (l qemuLaunch) sharedFSArgs() []string {
	switch l.machine.sharedFS {
	case SharedFS9P:
		return []string{
			"-fsdev", fmt.Sprintf("local,id=%sdev,path=%s,security_model=none,multidevs=remap", sharedFSDeviceID, l.sharedDir),
			"-device", fmt.Sprintf("%s,fsdev=%sdev,mount_tag=%s,id=%s", virtioDevice("virtio-9p", l.machine.transport), sharedFSDeviceID, sharedFSTag, sharedFSDeviceID),
		}
	case SharedFSVirtioFS:
		return []string{
			"-chardev", fmt.Sprintf("socket,id=%schar,path=%s", sharedFSDeviceID, l.paths.virtiofsd),
			"-device", fmt.Sprintf("%s,chardev=%schar,tag=%s,id=%s,queue-size=1024", virtioDevice("vhost-user-fs", l.machine.transport), sharedFSDeviceID, sharedFSTag, sharedFSDeviceID),
		}
	}
	return nil
}
