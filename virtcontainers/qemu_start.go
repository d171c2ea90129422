package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
)

// StartError is the error of a failed StartVM. It carries what QEMU printed
// on stderr and the end of the guest console, read before the VM's directory
// was removed.
type StartError struct {
	Sandbox     string
	Err         error
	QEMUStderr  string
	ConsoleTail string
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "starting QEMU for sandbox %s: %v", e.Sandbox, e.Err)
	if s := strings.TrimSpace(e.QEMUStderr); s != "" {
		fmt.Fprintf(&b, "\nQEMU stderr:\n%s", s)
	}
	if s := strings.TrimSpace(e.ConsoleTail); s != "" {
		fmt.Fprintf(&b, "\nguest console (last %d bytes):\n%s", consoleTailBytes, s)
	}
	return b.String()
}

func (e *StartError) Unwrap() error { return e.Err }

// vmResources is everything StartVM creates on the host, so that one
// function, release, undoes any prefix of it.
type vmResources struct {
	dirCreated      bool
	console         *consoleLog
	vsockDevice     *os.File
	virtiofsd       *childProcess
	virtiofsdStderr *tailBuffer
	qemu            *childProcess
	qemuStderr      *tailBuffer
	qmp             *qmpConn
}

// release undoes what StartVM created, in reverse order, and returns the
// tail of the console log as it was before the directory went away.
func (q *Qemu) release(res *vmResources) (consoleTail string) {
	if res.qmp != nil {
		res.qmp.close()
	}
	if res.qemu != nil {
		res.qemu.kill()
	}
	if res.virtiofsd != nil {
		res.virtiofsd.kill()
	}
	if res.vsockDevice != nil {
		res.vsockDevice.Close()
	}
	if res.console != nil {
		// QEMU is gone, so its end of the console socket is closed and the
		// copy has everything.
		res.console.close()
		consoleTail = res.console.tail()
	}
	if res.dirCreated {
		if err := os.RemoveAll(q.paths.dir); err != nil {
			q.log.WithError(err).WithField("path", q.paths.dir).Error("removing the VM directory failed")
		}
	}
	return consoleTail
}

// StartVM implements Hypervisor. It checks the assets and the host, creates
// <run root>/<id>/ (mode 0700) with its sockets (mode 0600), starts
// virtiofsd when the shared filesystem is virtio-fs, starts QEMU, negotiates
// QMP and returns once QEMU reports the guest running. On error it leaves
// nothing behind, and the error is a *StartError.
func (q *Qemu) StartVM(ctx context.Context) (err error) {
	q.mu.Lock()
	defer q.mu.Unlock()

	if q.state != vmCreated {
		return fmt.Errorf("starting sandbox %s in state %s: %w", q.id, q.state, ErrVMStarted)
	}

	// QEMU answers QMP within a second on a real host, but inside the
	// emulated riscv64 host its start-up took over 30 s.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}

	res := &vmResources{
		qemuStderr:      &tailBuffer{max: stderrTailBytes},
		virtiofsdStderr: &tailBuffer{max: stderrTailBytes},
	}
	defer func() {
		if err == nil {
			return
		}
		tail := q.release(res)
		q.state = vmStopped
		q.closeExited()
		stderr := res.qemuStderr.String()
		if s := res.virtiofsdStderr.String(); s != "" {
			stderr += "\nvirtiofsd stderr:\n" + s
		}
		err = &StartError{Sandbox: q.id, Err: err, QEMUStderr: stderr, ConsoleTail: tail}
		q.log.WithError(err).Error("VM start failed")
	}()

	if err := checkAssets(q.cfg); err != nil {
		return err
	}
	launch, err := q.resolveLaunch()
	if err != nil {
		return err
	}

	if err := os.MkdirAll(q.runRoot, 0o700); err != nil {
		return fmt.Errorf("creating run root %s: %w", q.runRoot, err)
	}
	if err := os.Mkdir(q.paths.dir, 0o700); err != nil {
		return fmt.Errorf("creating VM directory: %w; a VM with this id runs already, or a stale one was not cleaned up", err)
	}
	res.dirCreated = true

	if q.machine.sharedFS != SharedFSNone && q.sharedDir == "" {
		if err := os.Mkdir(launch.sharedDir, 0o700); err != nil {
			return fmt.Errorf("creating shared directory: %w", err)
		}
	}

	if res.console, err = startConsoleLog(q.paths.console, q.paths.consoleLog); err != nil {
		return err
	}

	var extraFiles []*os.File
	if launch.channel == ChannelVsock {
		res.vsockDevice, launch.guestCID, err = allocateGuestCID(q.vhostVsockPath, ioctlSetGuestCID, newRand())
		if err != nil {
			return fmt.Errorf("allocating a vsock guest CID: %w", err)
		}
		extraFiles = append(extraFiles, res.vsockDevice)
		launch.vhostFD = vhostFDInChild
	}

	if q.machine.sharedFS == SharedFSVirtioFS {
		legacy, err := isLegacyVirtiofsd(q.cfg.VirtioFSDaemon)
		if err != nil {
			return err
		}
		args := virtiofsdArgs(legacy, q.paths.virtiofsd, launch.sharedDir, q.cfg.VirtioFSCache, q.cfg.VirtioFSExtraArgs)
		if res.virtiofsd, err = startVirtiofsd(ctx, q.cfg.VirtioFSDaemon, args, q.paths.virtiofsd, res.virtiofsdStderr); err != nil {
			return err
		}
		if err := os.Chmod(q.paths.virtiofsd, 0o600); err != nil {
			return fmt.Errorf("setting the mode of the virtiofsd socket: %w", err)
		}
	}

	args := launch.args()
	q.log.WithFields(logrus.Fields{"path": q.cfg.Path, "args": strings.Join(args, " ")}).Info("starting QEMU")

	cmd := exec.Command(q.cfg.Path, args...)
	cmd.Stdout = res.qemuStderr
	cmd.Stderr = res.qemuStderr
	cmd.ExtraFiles = extraFiles
	if res.qemu, err = startChild(cmd); err != nil {
		return fmt.Errorf("running %s: %w", q.cfg.Path, err)
	}
	go q.watchExit(res.qemu)

	if res.qmp, err = dialQMP(ctx, q.paths.qmp, res.qemu.exited); err != nil {
		if res.qemu.hasExited() {
			return fmt.Errorf("QEMU exited during start-up (%s): %w", res.qemu.exitStatus(), ErrVMExited)
		}
		return err
	}

	// QEMU creates its listening sockets with the process umask. The VM
	// directory is 0700, so nobody else could reach them in the meantime.
	for _, path := range []string{q.paths.qmp, launch.agentSocket()} {
		if path == "" {
			continue
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", path, err)
		}
	}

	status, err := res.qmp.queryStatus(ctx)
	if err != nil {
		return err
	}
	if status.Status != "running" {
		return fmt.Errorf("QEMU status after start is %q, expected \"running\"", status.Status)
	}

	q.res = res
	q.channel = launch.channel
	q.guestCID = launch.guestCID
	q.rootPorts = make([]string, launch.rootPorts)
	q.state = vmRunning
	q.log.WithFields(logrus.Fields{
		"pid":           res.qemu.pid(),
		"accel":         q.machine.accel,
		"aia":           launch.machine.aia,
		"agent-channel": launch.channel,
	}).Info("VM started")
	return nil
}

// watchExit logs QEMU's end and closes the Exited channel.
func (q *Qemu) watchExit(p *childProcess) {
	<-p.exited
	q.log.WithFields(logrus.Fields{"pid": p.pid(), "status": p.exitStatus()}).Info("QEMU exited")
	q.closeExited()
}

// agentSocket returns the host socket of the serial agent channel, or "".
func (l qemuLaunch) agentSocket() string {
	if l.channel == ChannelSerial {
		return l.paths.agent
	}
	return ""
}

// resolveLaunch probes QEMU and the host and resolves everything the
// command line needs but the vsock CID. It creates nothing.
func (q *Qemu) resolveLaunch() (qemuLaunch, error) {
	cfg := q.cfg

	features, err := q.prober.ProbeQEMU(cfg.Path)
	if err != nil {
		return qemuLaunch{}, err
	}
	if err := checkAccelerator(q.machine.accel, cfg.Path, features, q.kvm); err != nil {
		return qemuLaunch{}, err
	}

	machine := q.machine
	if machine.aia, err = resolveAIA(q.machine.aia, machine.accel, cfg.Path, features, q.kvm); err != nil {
		return qemuLaunch{}, err
	}

	channel, err := chooseAgentChannel(q.agent.Channel, q.vhostVsockPath)
	if err != nil {
		return qemuLaunch{}, err
	}

	if machine.sharedFS == SharedFSVirtioFS && cfg.VirtioFSDaemon == "" {
		return qemuLaunch{}, fmt.Errorf("shared_fs = \"virtio-fs\" without virtio_fs_daemon: %w; set virtio_fs_daemon to virtiofsd's path", ErrInvalidConfig)
	}

	var rootPorts uint32
	if machine.transport == VirtioPCI {
		rootPorts = cfg.PCIeRootPorts
		if rootPorts == 0 {
			rootPorts = defaultHotplugPorts
		}
	}

	initrd := cfg.InitrdPath
	var rootDevice string
	if cfg.ImagePath != "" {
		if rootDevice, err = guestRootDevice(cfg.ImagePath); err != nil {
			return qemuLaunch{}, err
		}
		if initrd == "" {
			initrd = bootInitrdBeside(cfg.ImagePath)
		}
	}

	entropy := cfg.EntropySource
	if entropy == "" {
		entropy = defaultEntropySource
	}

	return qemuLaunch{
		id:      q.id,
		machine: machine,
		paths:   q.paths,
		kernel:  cfg.KernelPath,
		image:   cfg.ImagePath,
		initrd:  initrd,
		kernelParams: guestKernelParams(kernelParamsInput{
			debug:        cfg.EnableDebug,
			legacySerial: cfg.UseLegacySerial,
			rootDevice:   rootDevice,
			rootfsType:   cfg.RootfsType,
			vcpus:        machine.vcpus,
			agent:        q.agent,
			userParams:   cfg.KernelParams,
			blockDriver:  cfg.BlockDeviceDriver,
		}),
		debug:         cfg.EnableDebug,
		legacySerial:  cfg.UseLegacySerial,
		seccomp:       features.Seccomp,
		channel:       channel,
		vhostFD:       -1,
		sharedDir:     q.sharedDirPath(),
		entropySource: entropy,
		rootPorts:     rootPorts,
	}, nil
}

// bootInitrdName is the initrd that osbuilder writes beside an image whose
// kernel has virtio_blk or ext4 as modules: it loads them and mounts root=.
const bootInitrdName = "kata-containers-boot-initrd.img"

// bootInitrdBeside returns the boot initrd next to the image, or "" when
// there is none, as for images whose kernel mounts the root itself.
func bootInitrdBeside(imagePath string) string {
	path := filepath.Join(filepath.Dir(imagePath), bootInitrdName)
	if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
		return path
	}
	return ""
}

// checkAssets returns an error naming the configuration key of a missing
// kernel, image, initrd or firmware. Image and initrd may both be set: the
// initrd then only mounts the image, as osbuilder's boot initrd does.
func checkAssets(cfg HypervisorConfig) error {
	switch {
	case cfg.ImagePath == "" && cfg.InitrdPath == "":
		return fmt.Errorf("neither image nor initrd set: %w: set one of them in [hypervisor.qemu]", ErrInvalidConfig)
	}

	assets := []struct{ key, path string }{
		{"kernel", cfg.KernelPath},
		{"image", cfg.ImagePath},
		{"initrd", cfg.InitrdPath},
		{"firmware", cfg.FirmwarePath},
	}
	for _, a := range assets {
		if a.path == "" {
			if a.key == "kernel" {
				return fmt.Errorf("kernel not set: %w: set kernel in [hypervisor.qemu]", ErrInvalidConfig)
			}
			continue
		}
		info, err := os.Stat(a.path)
		if err != nil {
			return fmt.Errorf("%s = %q: %w; install the guest assets or fix %s in [hypervisor.qemu]", a.key, a.path, err, a.key)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s = %q: %w: not a regular file", a.key, a.path, ErrInvalidConfig)
		}
	}

	if _, err := os.Stat(cfg.Path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("QEMU binary %s: %w; install qemu-system-riscv64 (Debian package qemu-system-misc) or set path in [hypervisor.qemu]", cfg.Path, err)
		}
		return fmt.Errorf("QEMU binary %s: %w", cfg.Path, err)
	}
	return nil
}
