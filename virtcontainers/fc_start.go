package virtcontainers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
)

// fcDefaultMemoryMiB is the guest memory when default_memory is unset, as in
// Kata's configuration.
const fcDefaultMemoryMiB = 2048

// StartVM creates the VM directory, launches Firecracker (through the jailer
// when jailer_path is set), configures the VM through the API, sends
// InstanceStart and waits until GET / reports Running. On error it kills
// Firecracker and removes everything it created.
func (fc *Firecracker) StartVM(ctx context.Context) (err error) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.state != fcStateNew {
		return fmt.Errorf("starting Firecracker VM %s: the VM is %s, and StartVM runs once per VM", fc.id, fc.state)
	}

	start := time.Now()
	fc.log.WithFields(logrus.Fields{"vmm": fc.hc.Path, "jailer": fc.hc.JailerPath, "vm_dir": fc.vmDir}).Info("starting VM")
	defer func() {
		if err == nil {
			return
		}
		fc.log.WithError(err).Error("starting VM failed; removing what was started")
		if fc.cmd != nil && fc.cmd.Process != nil {
			select {
			case <-fc.exited:
			default:
				fc.stopping.Store(true)
				_ = fc.cmd.Process.Kill()
				<-fc.exited
			}
		}
		_ = fc.cleanup()
		fc.state = fcStateStopped
	}()

	if err := fc.createVMDir(); err != nil {
		return err
	}
	assets, err := fc.prepareAssets()
	if err != nil {
		return err
	}
	if err := fc.startDrains(); err != nil {
		return err
	}
	if err := fc.launch(); err != nil {
		return err
	}
	if err := fc.waitForAPI(ctx); err != nil {
		return err
	}
	if err := fc.configure(ctx, assets); err != nil {
		return err
	}
	if err := fc.client.PutAction(ctx, firecracker.ActionInstanceStart); err != nil {
		return fmt.Errorf("starting Firecracker VM %s: %w", fc.id, err)
	}
	if err := fc.waitForState(ctx, firecracker.StateRunning); err != nil {
		return err
	}

	fc.state = fcStateRunning
	fc.log.WithFields(logrus.Fields{"pid": fc.cmd.Process.Pid, "duration": time.Since(start)}).Info("VM running")
	return nil
}

// createVMDir creates the VM directory. An existing one belongs to another
// VM of the same id, or to one that was not cleaned up, so it is an error.
func (fc *Firecracker) createVMDir() error {
	idDir := filepath.Dir(fc.vmDir)
	if err := os.MkdirAll(filepath.Dir(idDir), 0o750); err != nil {
		return fmt.Errorf("creating Firecracker run directory: %w", err)
	}
	if err := os.Mkdir(idDir, 0o750); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("VM directory %s already exists: another VM whose id starts with %s runs, or a stopped one left it behind; remove it if no Firecracker uses it", idDir, fc.vmID)
		}
		return fmt.Errorf("creating VM directory: %w", err)
	}
	fc.onCleanup(func() error { return os.RemoveAll(idDir) })

	if err := os.Mkdir(fc.vmDir, 0o750); err != nil {
		return fmt.Errorf("creating VM directory: %w", err)
	}
	return fc.chownForJail("")
}

// fcAssets are the paths of the boot files in API requests.
type fcAssets struct {
	kernel     string
	image      string
	rootDevice string
}

// prepareAssets exposes the kernel and the guest image to Firecracker and
// creates the empty placeholder drive files.
func (fc *Firecracker) prepareAssets() (fcAssets, error) {
	var a fcAssets
	var err error
	var undo func() error

	if a.kernel, undo, err = fc.exposeFile(fc.hc.KernelPath, "vmlinux"); err != nil {
		return a, err
	}
	fc.onCleanup(undo)
	if a.image, undo, err = fc.exposeFile(fc.hc.ImagePath, "rootfs.img"); err != nil {
		return a, err
	}
	fc.onCleanup(undo)

	a.rootDevice, err = guestRootDevice(fc.hc.ImagePath)
	if err != nil {
		return a, err
	}

	fc.drives = make([]fcDrive, fc.opts.ContainerDrives)
	for i := range fc.drives {
		id := fmt.Sprintf("drive_%d", i)
		f, err := os.OpenFile(filepath.Join(fc.vmDir, id), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return a, fmt.Errorf("creating placeholder drive: %w", err)
		}
		_ = f.Close()
		if err := fc.chownForJail(id); err != nil {
			return a, err
		}
		fc.drives[i] = fcDrive{id: id, placeholder: fc.apiPath(id)}
	}
	return a, nil
}

// guestRootDevice returns the guest device that contains the image's root
// filesystem. The image is the first drive, /dev/vda. An image with a
// partition table has the filesystem in /dev/vda1, as Kata's osbuilder images
// do. The check looks for the MBR signature at byte 510, which the protective
// MBR in front of a GPT also has.
func guestRootDevice(imagePath string) (string, error) {
	f, err := os.Open(imagePath)
	if err != nil {
		return "", fmt.Errorf("opening guest image: %w", err)
	}
	defer func() { _ = f.Close() }()
	sig := make([]byte, 2)
	if _, err := f.ReadAt(sig, 510); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the partition table of guest image %s: %w", imagePath, err)
	}
	if sig[0] == 0x55 && sig[1] == 0xaa {
		return "/dev/vda1", nil
	}
	return "/dev/vda", nil
}

// startDrains creates the named pipes for Firecracker's log and metrics and
// starts sending their lines to logrus.
func (fc *Firecracker) startDrains() error {
	uid, gid := 0, 0
	if fc.jailed {
		uid, gid = fc.opts.JailerUID, fc.opts.JailerGID
	}
	logDrain, err := startFIFODrain(filepath.Join(fc.vmDir, fcLogFIFO), uid, gid, fc.log.WithField("stream", "vmm-log"), logrus.InfoLevel)
	if err != nil {
		return err
	}
	fc.drains = append(fc.drains, logDrain)
	metricsDrain, err := startFIFODrain(filepath.Join(fc.vmDir, fcMetricsFIFO), uid, gid, fc.log.WithField("stream", "vmm-metrics"), logrus.DebugLevel)
	if err != nil {
		return err
	}
	fc.drains = append(fc.drains, metricsDrain)
	return nil
}

// launch starts Firecracker, or the jailer that execs it.
func (fc *Firecracker) launch() error {
	var cmd *exec.Cmd
	if fc.jailed {
		cmd = exec.Command(fc.hc.JailerPath, fc.jailerArgs()...)
	} else {
		cmd = exec.Command(fc.hc.Path, fc.firecrackerArgs()...)
	}
	cmd.Dir = fc.vmDir
	// A process group of its own keeps a terminal's SIGINT to the runtime
	// from reaching the VMM.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout := fc.log.WithField("stream", "vmm-stdout").WriterLevel(logrus.InfoLevel)
	stderr := fc.log.WithField("stream", "vmm-stderr").WriterLevel(logrus.WarnLevel)
	cmd.Stdout = stdout
	cmd.Stderr = io.MultiWriter(stderr, &fc.stderrTail)

	if err := cmd.Start(); err != nil {
		_ = stdout.Close()
		_ = stderr.Close()
		return fmt.Errorf("launching %s: %w", cmd.Path, err)
	}
	fc.cmd = cmd
	pid := cmd.Process.Pid
	fc.pid.Store(int64(pid))
	fc.log.WithFields(logrus.Fields{"pid": pid, "args": strings.Join(cmd.Args, " ")}).Info("Firecracker launched")

	go func() {
		err := cmd.Wait()
		_ = stdout.Close()
		_ = stderr.Close()
		entry := fc.log.WithField("pid", pid).WithField("status", exitStatus(err))
		if fc.stopping.Load() {
			entry.Info("Firecracker exited")
		} else {
			entry.Warn("Firecracker exited on its own; the VM is gone")
		}
		fc.pid.Store(0)
		close(fc.exited)
	}()
	return nil
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// fcPollRequestTimeout bounds each GET / of a poll, so that an API that
// accepts the connection but never replies cannot hold a poll past the
// boot timeout by the client's own, longer timeout.
const fcPollRequestTimeout = 500 * time.Millisecond

// describe sends one GET / bounded by fcPollRequestTimeout.
func (fc *Firecracker) describe(ctx context.Context) (firecracker.InstanceInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, fcPollRequestTimeout)
	defer cancel()
	return fc.client.DescribeInstance(ctx)
}

// waitForAPI polls GET / until Firecracker serves its API.
func (fc *Firecracker) waitForAPI(ctx context.Context) error {
	deadline := time.Now().Add(fc.opts.BootTimeout)
	attempts := 0
	for {
		attempts++
		info, err := fc.describe(ctx)
		if err == nil {
			fc.log.WithFields(logrus.Fields{"vmm_version": info.VMMVersion, "attempts": attempts}).Debug("Firecracker API ready")
			return nil
		}
		if werr := fc.pollWait(ctx, deadline); werr != nil {
			return fmt.Errorf("waiting for the Firecracker API on %s: %w (last error: %v)", fc.client.SocketPath(), werr, err)
		}
	}
}

// waitForState polls GET / until the instance reports want.
func (fc *Firecracker) waitForState(ctx context.Context, want firecracker.InstanceState) error {
	deadline := time.Now().Add(fc.opts.BootTimeout)
	for {
		info, err := fc.describe(ctx)
		if err == nil && info.State == want {
			return nil
		}
		if werr := fc.pollWait(ctx, deadline); werr != nil {
			last := fmt.Sprintf("state %q", info.State)
			if err != nil {
				last = err.Error()
			}
			return fmt.Errorf("waiting for Firecracker VM %s to be %s: %w (last: %s)", fc.id, want, werr, last)
		}
	}
}

// pollWait sleeps one poll interval. It fails when Firecracker has exited,
// ctx is done or the deadline has passed.
func (fc *Firecracker) pollWait(ctx context.Context, deadline time.Time) error {
	if time.Now().After(deadline) {
		return fmt.Errorf("timed out after %s", fc.opts.BootTimeout)
	}
	select {
	case <-fc.exited:
		return fmt.Errorf("%w before it was ready (pid %d, %s, last stderr %q)",
			ErrVMExited, fc.cmd.Process.Pid, fc.cmd.ProcessState, fc.stderrTail.String())
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(fcPollInterval):
		return nil
	}
}

// configure sends the pre-boot configuration: logger and metrics first so
// that Firecracker logs the rest, then the machine, the boot source, the
// drives, the network interfaces and the vsock device.
func (fc *Firecracker) configure(ctx context.Context, a fcAssets) error {
	level := firecracker.LogWarning
	if fc.hc.EnableDebug {
		level = firecracker.LogDebug
	}
	if err := fc.client.PutLogger(ctx, firecracker.Logger{
		LogPath: fc.apiPath(fcLogFIFO), Level: level, ShowLevel: true, ShowLogOrigin: fc.hc.EnableDebug,
	}); err != nil {
		return fmt.Errorf("configuring Firecracker's log: %w", err)
	}
	if err := fc.client.PutMetrics(ctx, firecracker.Metrics{MetricsPath: fc.apiPath(fcMetricsFIFO)}); err != nil {
		return fmt.Errorf("configuring Firecracker's metrics: %w", err)
	}

	memory := fc.hc.MemoryMiB
	if memory == 0 {
		memory = fcDefaultMemoryMiB
	}
	if err := fc.client.PutMachineConfig(ctx, firecracker.MachineConfig{
		VCPUCount: max(fc.hc.DefaultVCPUs, 1), MemSizeMiB: memory,
	}); err != nil {
		return fmt.Errorf("configuring the VM's vCPUs and memory: %w", err)
	}

	params := fc.arch.kernelParams(fcKernelParams{
		Debug: fc.hc.EnableDebug, RootDevice: a.rootDevice, RootfsType: fc.hc.RootfsType, Agent: fc.agent,
	})
	params = append(params, fc.hc.KernelParams...)
	bootArgs := strings.Join(params, " ")
	if limit := fc.arch.maxCmdline(); len(bootArgs) > limit {
		return fmt.Errorf("guest kernel command line is %d bytes, longer than the %d Firecracker accepts: shorten kernel_params in [hypervisor.firecracker] (%q)",
			len(bootArgs), limit, bootArgs)
	}
	if err := fc.client.PutBootSource(ctx, firecracker.BootSource{
		KernelImagePath: a.kernel, BootArgs: bootArgs,
	}); err != nil {
		return fmt.Errorf("configuring the guest kernel: %w", err)
	}

	if err := fc.client.PutDrive(ctx, firecracker.Drive{
		DriveID: fcRootfsDriveID, IsRootDevice: false, IsReadOnly: true, PathOnHost: a.image,
	}); err != nil {
		return fmt.Errorf("attaching the guest image: %w", err)
	}
	for _, d := range fc.drives {
		if err := fc.client.PutDrive(ctx, firecracker.Drive{
			DriveID: d.id, IsRootDevice: false, IsReadOnly: false, PathOnHost: d.placeholder,
		}); err != nil {
			return fmt.Errorf("attaching placeholder drive %s: %w", d.id, err)
		}
	}

	for _, n := range fc.opts.Networks {
		if err := fc.client.PutNetworkInterface(ctx, firecracker.NetworkInterface{
			IfaceID: n.ID, HostDevName: n.HostDevName, GuestMAC: n.GuestMAC, MTU: n.MTU,
		}); err != nil {
			return fmt.Errorf("attaching network interface %s (tap %s): %w", n.ID, n.HostDevName, err)
		}
	}

	if err := fc.client.PutVsock(ctx, firecracker.Vsock{GuestCID: fcGuestCID, UDSPath: fc.apiPath(fcVsockSocket)}); err != nil {
		return fmt.Errorf("attaching the vsock device: %w", err)
	}
	return nil
}
