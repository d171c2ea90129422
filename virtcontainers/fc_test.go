package virtcontainers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/client"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker/fctest"
)

// envStandInProcess selects the stand-in process a re-executed test binary
// runs as: "firecracker" or "jailer".
const envStandInProcess = "FCTEST_PROCESS"

// TestFirecrackerStandInProcess is not a test. The Firecracker tests
// re-execute the test binary through a wrapper script that selects this
// function, with the process arguments after "--". It then serves the
// stand-in Firecracker API or acts as the stand-in jailer. The stand-in
// (package fctest) is written from Firecracker's swagger schema and is not
// Firecracker.
func TestFirecrackerStandInProcess(t *testing.T) {
	switch os.Getenv(envStandInProcess) {
	case "firecracker":
		os.Exit(fctest.Main(flag.Args(), os.Stdout, os.Stderr))
	case "jailer":
		os.Exit(fctest.JailerMain(flag.Args(), os.Stderr))
	}
	t.Skip("runs only as the stand-in firecracker or jailer process that other tests start")
}

// fcFixture holds the files a Firecracker test VM uses: a riscv64 Image
// header as kernel, a partitioned image, and wrapper scripts that run this
// test binary as the stand-in firecracker and jailer.
type fcFixture struct {
	dir     string
	runRoot string
	kernel  string
	image   string
	bin     string
	jailer  string
	record  string
	hook    *logtest.Hook
	logger  *logrus.Entry
}

// newFCFixture prepares the files. env is added to the stand-in
// firecracker's environment (for example fctest.EnvIgnoreSIGTERM+"=1").
func newFCFixture(t testing.TB, env ...string) *fcFixture {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("finding the test binary: %v", err)
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the stand-in process wrappers")
	}

	dir := t.TempDir()
	// The run root is short, unlike t.TempDir's paths, which contain the
	// test name: socket paths under it must stay within 107 bytes.
	runRoot, err := os.MkdirTemp("", "fc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(runRoot) })
	f := &fcFixture{
		dir:     dir,
		runRoot: runRoot,
		kernel:  filepath.Join(dir, "Image"),
		image:   filepath.Join(dir, "kata-containers.img"),
		bin:     filepath.Join(dir, "bin", "firecracker"),
		jailer:  filepath.Join(dir, "bin", "jailer"),
		record:  filepath.Join(dir, "requests.jsonl"),
	}
	writeRISCVImage(t, f.kernel)
	writeDiskImage(t, f.image, true)

	env = append(env, fctest.EnvRecord+"="+f.record)
	writeWrapper(t, f.bin, self, "firecracker", env)
	writeWrapper(t, f.jailer, self, "jailer", nil)

	logger := logrus.New()
	logger.SetOutput(ioDiscard{})
	logger.SetLevel(logrus.DebugLevel)
	f.hook = logtest.NewLocal(logger)
	f.logger = logrus.NewEntry(logger)
	return f
}

type ioDiscard struct{}

func (ioDiscard) Write(p []byte) (int, error) { return len(p), nil }

func writeWrapper(t testing.TB, path, self, role string, env []string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "export %s=%s\n", envStandInProcess, role)
	for _, e := range env {
		fmt.Fprintf(&b, "export %q\n", e)
	}
	fmt.Fprintf(&b, "exec %q -test.run='^TestFirecrackerStandInProcess$' -- \"$@\"\n", self)
	if err := os.WriteFile(path, []byte(b.String()), 0o755); err != nil {
		t.Fatal(err)
	}
}

// writeRISCVImage writes the 64-byte header of an uncompressed riscv64
// Image (an EFI stub "MZ", magic "RISCV\0\0\0" at 0x30, magic2 "RSC\x05" at
// 0x38), padded to 4 KiB.
func writeRISCVImage(t testing.TB, path string) {
	t.Helper()
	data := make([]byte, 4096)
	copy(data, "MZ")
	copy(data[0x30:], "RISCV\x00\x00\x00")
	copy(data[0x38:], "RSC\x05")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeDiskImage writes a 64 KiB disk image, with an MBR signature when
// partitioned.
func writeDiskImage(t testing.TB, path string, partitioned bool) {
	t.Helper()
	data := make([]byte, 64*1024)
	if partitioned {
		data[510], data[511] = 0x55, 0xaa
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fcFixture) config() HypervisorConfig {
	return HypervisorConfig{
		Type:              FirecrackerHypervisor,
		Path:              f.bin,
		KernelPath:        f.kernel,
		ImagePath:         f.image,
		RootfsType:        "ext4",
		DefaultVCPUs:      1,
		MemoryMiB:         512,
		BlockDeviceDriver: BlockDriverVirtioMMIO,
	}
}

func (f *fcFixture) options() FirecrackerOptions {
	return FirecrackerOptions{RunRoot: f.runRoot, Logger: f.logger, BootTimeout: 20 * time.Second, StopTimeout: 5 * time.Second}
}

// start creates and boots a VM; the test's cleanup stops it.
func (f *fcFixture) start(t *testing.T, id string, hc HypervisorConfig, opts FirecrackerOptions) *Firecracker {
	t.Helper()
	fc, err := NewFirecracker(id, hc, AgentConfig{}, opts)
	if err != nil {
		t.Fatalf("NewFirecracker: %v", err)
	}
	if err := fc.StartVM(context.Background()); err != nil {
		t.Fatalf("StartVM: %v", err)
	}
	t.Cleanup(func() { _ = fc.StopVM(context.Background()) })
	return fc
}

// requests returns what the stand-in firecracker process has received.
func (f *fcFixture) requests(t *testing.T) []fctest.Request {
	t.Helper()
	data, err := os.ReadFile(f.record)
	if err != nil {
		t.Fatalf("reading the stand-in's request record: %v", err)
	}
	var reqs []fctest.Request
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		var r fctest.Request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("request record line %q: %v", sc.Text(), err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// configRequests returns the requests other than GET /, as "METHOD PATH BODY".
func configRequests(reqs []fctest.Request) []string {
	var out []string
	for _, r := range reqs {
		if r.Method == "GET" && r.Path == "/" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s -> %d", r.Method, r.Path, r.Body, r.StatusCode))
	}
	return out
}

// waitForLog waits until the hook holds an entry that matches, for
// lines the backend logs from another goroutine.
func waitForLog(t *testing.T, hook *logtest.Hook, match func(*logrus.Entry) bool) *logrus.Entry {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range hook.AllEntries() {
			if match(e) {
				return e
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// hvsockHandshake dials the hybrid vsock socket of an hvsock:// URL, sends
// CONNECT for its port and returns the connection after the OK line.
func hvsockHandshake(t *testing.T, url string) net.Conn {
	t.Helper()
	rest, ok := strings.CutPrefix(url, "hvsock://")
	i := strings.LastIndex(rest, ":")
	if !ok || i < 0 {
		t.Fatalf("agent URL %q: want hvsock://<socket>:<port>", url)
	}
	conn, err := net.Dial("unix", rest[:i])
	if err != nil {
		t.Fatalf("dialing the hybrid vsock socket of %s: %v", url, err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = fmt.Fprintf(conn, "CONNECT %s\n", rest[i+1:])
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "OK ") {
		_ = conn.Close()
		t.Fatalf("hybrid vsock handshake on %s: got %q (%v), want \"OK <port>\\n\"", url, line, err)
	}
	return conn
}

func TestFirecrackerStartStop(t *testing.T) {
	f := newFCFixture(t)
	fc := f.start(t, "sb1", f.config(), f.options())

	pids := fc.PIDs()
	if len(pids) != 1 || pids[0] <= 0 {
		t.Fatalf("PIDs of a running VM: got %v, want one process", pids)
	}
	info, err := firecracker.NewClient(filepath.Join(fc.VMDir(), "firecracker.socket")).DescribeInstance(context.Background())
	if err != nil || info.State != firecracker.StateRunning || info.ID != "sb1" {
		t.Errorf("GET / after StartVM: got %+v, %v; want id sb1 and state Running", info, err)
	}

	wantDir := filepath.Join(f.runRoot, "firecracker", "sb1", "root")
	if fc.VMDir() != wantDir {
		t.Errorf("VMDir: got %s, want %s", fc.VMDir(), wantDir)
	}
	url, _ := fc.AgentURL()
	if want := "hvsock://" + filepath.Join(wantDir, "kata.hvsock") + ":1024"; url != want {
		t.Errorf("AgentURL: got %s, want %s", url, want)
	}
	conn := hvsockHandshake(t, url)
	_, _ = fmt.Fprintf(conn, "ping\n")
	echo, err := bufio.NewReader(conn).ReadString('\n')
	_ = conn.Close()
	if echo != "ping\n" {
		t.Errorf("echo from the stand-in guest on port 1024: got %q (%v), want \"ping\\n\"", echo, err)
	}

	vmmLog := waitForLog(t, f.hook, func(e *logrus.Entry) bool {
		return e.Data["stream"] == "vmm-log" && strings.Contains(e.Message, "instance started")
	})
	if vmmLog == nil {
		t.Errorf("Firecracker's log: no line containing \"instance started\" reached logrus")
	} else if vmmLog.Data["sandbox"] != "sb1" || vmmLog.Data["subsystem"] != "firecracker" {
		t.Errorf("Firecracker's log fields: got %v, want sandbox sb1 and subsystem firecracker", vmmLog.Data)
	}
	if waitForLog(t, f.hook, func(e *logrus.Entry) bool {
		return e.Data["stream"] == "vmm-metrics" && strings.Contains(e.Message, "utc_timestamp_ms")
	}) == nil {
		t.Errorf("Firecracker's metrics: no JSON line reached logrus")
	}

	if err := fc.StopVM(context.Background()); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	select {
	case <-fc.Exited():
	default:
		t.Errorf("Exited after StopVM: channel still open")
	}
	if got := fc.PIDs(); got != nil {
		t.Errorf("PIDs after StopVM: got %v, want none", got)
	}
	if _, err := os.Stat(filepath.Dir(wantDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VM directory after StopVM: got %v, want it removed", err)
	}
	if err := fc.StopVM(context.Background()); err != nil {
		t.Errorf("second StopVM: got %v, want nil", err)
	}
	if err := fc.StartVM(context.Background()); err == nil {
		t.Errorf("StartVM after StopVM: got nil, want an error")
	}
}

func TestFirecrackerAgentURLDials(t *testing.T) {
	f := newFCFixture(t)
	fc := f.start(t, "dial", f.config(), f.options())
	url, err := fc.AgentURL()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.WithHandshakeTimeout(5*time.Second), client.WithLogger(f.logger))
	if err != nil {
		t.Fatalf("agent client Dial(%s) through the stand-in's hybrid vsock: %v", url, err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("closing the agent connection: %v", err)
	}
}

func TestFirecrackerAPISequence(t *testing.T) {
	f := newFCFixture(t)
	hc := f.config()
	hc.DefaultVCPUs = 2
	hc.KernelParams = []string{"systemd.unit=kata-containers.target"}
	opts := f.options()
	opts.ContainerDrives = 2
	opts.Networks = []FirecrackerNetwork{{ID: "eth0", HostDevName: "tap0_kata", GuestMAC: "02:00:ca:fe:00:01", MTU: 1500}}
	fc := f.start(t, "seq", hc, opts)
	dir := fc.VMDir()

	bootArgs := wantFCBootArgs(false, "/dev/vda1") + " systemd.unit=kata-containers.target"
	want := []string{
		`PUT /logger {"log_path":"` + dir + `/logs.fifo","level":"Warning","show_level":true,"show_log_origin":false} -> 204`,
		`PUT /metrics {"metrics_path":"` + dir + `/metrics.fifo"} -> 204`,
		`PUT /machine-config {"vcpu_count":2,"mem_size_mib":512} -> 204`,
		`PUT /boot-source {"kernel_image_path":"` + f.kernel + `","boot_args":"` + bootArgs + `"} -> 204`,
		`PUT /drives/rootfs {"drive_id":"rootfs","is_root_device":false,"is_read_only":true,"path_on_host":"` + f.image + `"} -> 204`,
		`PUT /drives/drive_0 {"drive_id":"drive_0","is_root_device":false,"is_read_only":false,"path_on_host":"` + dir + `/drive_0"} -> 204`,
		`PUT /drives/drive_1 {"drive_id":"drive_1","is_root_device":false,"is_read_only":false,"path_on_host":"` + dir + `/drive_1"} -> 204`,
		`PUT /network-interfaces/eth0 {"iface_id":"eth0","host_dev_name":"tap0_kata","guest_mac":"02:00:ca:fe:00:01","mtu":1500} -> 204`,
		`PUT /vsock {"guest_cid":3,"uds_path":"` + dir + `/kata.hvsock"} -> 204`,
		`PUT /actions {"action_type":"InstanceStart"} -> 204`,
	}
	got := configRequests(f.requests(t))
	if len(got) != len(want) {
		t.Fatalf("configuration requests: got %d\n%s\nwant %d\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d:\ngot  %s\nwant %s", i, got[i], want[i])
		}
	}
	reqs := f.requests(t)
	if last := reqs[len(reqs)-1]; last.Method != "GET" || last.Path != "/" {
		t.Errorf("last request before StartVM returned: got %s %s, want GET / (the wait for Running)", last.Method, last.Path)
	}
}

func TestFirecrackerStopEscalatesToSIGKILL(t *testing.T) {
	f := newFCFixture(t, fctest.EnvIgnoreSIGTERM+"=1")
	opts := f.options()
	opts.StopTimeout = 200 * time.Millisecond
	fc := f.start(t, "stubborn", f.config(), opts)

	if err := fc.StopVM(context.Background()); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	select {
	case <-fc.Exited():
	default:
		t.Fatalf("Exited after StopVM: channel still open")
	}
	if waitForLog(t, f.hook, func(e *logrus.Entry) bool { return strings.Contains(e.Message, "sending SIGKILL") }) == nil {
		t.Errorf("log: want a warning that SIGKILL followed SIGTERM")
	}
	if waitForLog(t, f.hook, func(e *logrus.Entry) bool {
		return e.Message == "Firecracker exited" && strings.Contains(fmt.Sprint(e.Data["status"]), "killed")
	}) == nil {
		t.Errorf("log: want Firecracker's exit with status \"signal: killed\"")
	}
	if _, err := os.Stat(filepath.Join(f.runRoot, "firecracker", "stubborn")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VM directory after StopVM: got %v, want it removed", err)
	}
}

func TestFirecrackerStopCancelled(t *testing.T) {
	f := newFCFixture(t, fctest.EnvIgnoreSIGTERM+"=1")
	fc := f.start(t, "cancelled", f.config(), f.options())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fc.StopVM(ctx); err != nil {
		t.Fatalf("StopVM with a cancelled context: %v", err)
	}
	select {
	case <-fc.Exited():
	default:
		t.Fatalf("Exited after StopVM: channel still open")
	}
}

func TestFirecrackerStartFailureCleansUp(t *testing.T) {
	f := newFCFixture(t, fctest.EnvExitAtStart+"=1")
	fc, err := NewFirecracker("dies", f.config(), AgentConfig{}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	err = fc.StartVM(context.Background())
	if !errors.Is(err, ErrVMExited) {
		t.Fatalf("StartVM with a VMM that exits: got %v, want ErrVMExited", err)
	}
	for _, want := range []string{"exit status 1", "stand-in firecracker: exiting at start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StartVM error %q: want it to contain %q from the VMM's exit", err, want)
		}
	}
	select {
	case <-fc.Exited():
	default:
		t.Errorf("Exited after a failed start: channel still open")
	}
	if _, err := os.Stat(filepath.Join(f.runRoot, "firecracker", "dies")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VM directory after a failed start: got %v, want it removed", err)
	}
	if got := fc.PIDs(); got != nil {
		t.Errorf("PIDs after a failed start: got %v, want none", got)
	}
}

func TestFirecrackerStartRejectsStaleVMDir(t *testing.T) {
	f := newFCFixture(t)
	stale := filepath.Join(f.runRoot, "firecracker", "stale")
	if err := os.MkdirAll(stale, 0o750); err != nil {
		t.Fatal(err)
	}
	fc, err := NewFirecracker("stale", f.config(), AgentConfig{}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	err = fc.StartVM(context.Background())
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("StartVM over an existing VM directory: got %v, want an \"already exists\" error", err)
	}
	if _, err := os.Stat(stale); err != nil {
		t.Errorf("existing VM directory after the failed start: got %v, want it left alone", err)
	}
}

func TestFirecrackerPauseResume(t *testing.T) {
	f := newFCFixture(t)
	fc := f.start(t, "pause", f.config(), f.options())
	ctx := context.Background()

	if err := fc.ResumeVM(ctx); !errors.Is(err, ErrVMNotRunning) {
		t.Errorf("ResumeVM of a running VM: got %v, want ErrVMNotRunning", err)
	}
	if err := fc.PauseVM(ctx); err != nil {
		t.Fatalf("PauseVM: %v", err)
	}
	info, _ := firecracker.NewClient(filepath.Join(fc.VMDir(), "firecracker.socket")).DescribeInstance(ctx)
	if info.State != firecracker.StatePaused {
		t.Errorf("state after PauseVM: got %q, want Paused", info.State)
	}
	if err := fc.PauseVM(ctx); !errors.Is(err, ErrVMNotRunning) {
		t.Errorf("PauseVM of a paused VM: got %v, want ErrVMNotRunning", err)
	}
	if _, err := fc.HotplugBlock(ctx, BlockDevice{ID: "c1", Path: f.image}); !errors.Is(err, ErrVMNotRunning) {
		t.Errorf("HotplugBlock on a paused VM: got %v, want ErrVMNotRunning", err)
	}
	if err := fc.ResumeVM(ctx); err != nil {
		t.Fatalf("ResumeVM: %v", err)
	}

	got := configRequests(f.requests(t))
	want := []string{`PATCH /vm {"state":"Paused"} -> 204`, `PATCH /vm {"state":"Resumed"} -> 204`}
	if len(got) < 2 || got[len(got)-2] != want[0] || got[len(got)-1] != want[1] {
		t.Errorf("last requests: got %v, want %v", got, want)
	}
}

func TestFirecrackerHotplugBlock(t *testing.T) {
	f := newFCFixture(t)
	opts := f.options()
	opts.ContainerDrives = 2
	fc := f.start(t, "hotplug", f.config(), opts)
	ctx := context.Background()

	disk1 := filepath.Join(f.dir, "c1.img")
	disk2 := filepath.Join(f.dir, "c2.img")
	disk3 := filepath.Join(f.dir, "c3.img")
	for _, d := range []string{disk1, disk2, disk3} {
		writeDiskImage(t, d, false)
	}

	tests := []struct {
		dev       BlockDevice
		wantGuest string
		wantErr   string
	}{
		{BlockDevice{ID: "c1", Path: disk1}, "/dev/vdb", ""},
		{BlockDevice{ID: "c1", Path: disk2}, "", "already attached as drive_0"},
		{BlockDevice{ID: "dir", Path: f.dir}, "", "is a directory, but Firecracker shares no filesystem"},
		{BlockDevice{ID: "gone", Path: filepath.Join(f.dir, "missing.img")}, "", "no such file"},
		{BlockDevice{ID: "c2", Path: disk2}, "/dev/vdc", ""},
		{BlockDevice{ID: "c3", Path: disk3}, "", "all 2 placeholder drives are in use"},
	}
	for _, tt := range tests {
		got, err := fc.HotplugBlock(ctx, tt.dev)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("HotplugBlock(%s, %s): got %q, %v; want an error containing %q", tt.dev.ID, tt.dev.Path, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.wantGuest {
			t.Errorf("HotplugBlock(%s): got %q, %v; want %s", tt.dev.ID, got, err, tt.wantGuest)
		}
	}

	if err := fc.UnplugBlock(ctx, "c1"); err != nil {
		t.Fatalf("UnplugBlock(c1): %v", err)
	}
	if err := fc.UnplugBlock(ctx, "c1"); err == nil {
		t.Errorf("second UnplugBlock(c1): got nil, want an error")
	}
	if got, err := fc.HotplugBlock(ctx, BlockDevice{ID: "c3", Path: disk3}); err != nil || got != "/dev/vdb" {
		t.Errorf("HotplugBlock(c3) after unplugging c1: got %q, %v; want /dev/vdb", got, err)
	}

	dir := fc.VMDir()
	var patches []string
	for _, r := range configRequests(f.requests(t)) {
		if strings.HasPrefix(r, "PATCH /drives/") {
			patches = append(patches, r)
		}
	}
	want := []string{
		`PATCH /drives/drive_0 {"drive_id":"drive_0","path_on_host":"` + disk1 + `"} -> 204`,
		`PATCH /drives/drive_1 {"drive_id":"drive_1","path_on_host":"` + disk2 + `"} -> 204`,
		`PATCH /drives/drive_0 {"drive_id":"drive_0","path_on_host":"` + dir + `/drive_0"} -> 204`,
		`PATCH /drives/drive_0 {"drive_id":"drive_0","path_on_host":"` + disk3 + `"} -> 204`,
	}
	if strings.Join(patches, "\n") != strings.Join(want, "\n") {
		t.Errorf("drive PATCH requests:\ngot\n%s\nwant\n%s", strings.Join(patches, "\n"), strings.Join(want, "\n"))
	}
}

func TestFirecrackerSharesNoFilesystem(t *testing.T) {
	f := newFCFixture(t)
	fc, err := NewFirecracker("nofs", f.config(), AgentConfig{}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fc.SharedFS(); ok {
		t.Errorf("SharedFS: got ok=true, want false")
	}
	if fc.Type() != FirecrackerHypervisor {
		t.Errorf("Type: got %q, want %q", fc.Type(), FirecrackerHypervisor)
	}
}

func TestFirecrackerJailer(t *testing.T) {
	f := newFCFixture(t)
	hc := f.config()
	hc.JailerPath = f.jailer
	hc.ValidJailerPaths = []string{filepath.Join(f.dir, "bin", "jail*")}
	opts := f.options()
	opts.ContainerDrives = 1
	fc := f.start(t, "jailed", hc, opts)
	ctx := context.Background()

	root := filepath.Join(f.runRoot, "firecracker", "jailed", "root")
	for _, name := range []string{"vmlinux", "rootfs.img", "drive_0", "firecracker.socket", "kata.hvsock", "logs.fifo"} {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("jail file %s: %v", name, err)
		}
	}
	want := []string{
		`PUT /logger {"log_path":"/logs.fifo","level":"Warning","show_level":true,"show_log_origin":false} -> 204`,
		`PUT /metrics {"metrics_path":"/metrics.fifo"} -> 204`,
	}
	got := configRequests(f.requests(t))
	for i, w := range want {
		if i >= len(got) || got[i] != w {
			t.Errorf("jailed request %d: got %v, want %s", i, got, w)
		}
	}
	for _, w := range []string{`"kernel_image_path":"/vmlinux"`, `"path_on_host":"/rootfs.img"`, `"path_on_host":"/drive_0"`, `"uds_path":"/kata.hvsock"`} {
		if !strings.Contains(strings.Join(got, "\n"), w) {
			t.Errorf("jailed requests: want a body with %s, got\n%s", w, strings.Join(got, "\n"))
		}
	}

	url, _ := fc.AgentURL()
	_ = hvsockHandshake(t, url).Close()

	disk := filepath.Join(f.dir, "c1.img")
	writeDiskImage(t, disk, false)
	if _, err := fc.HotplugBlock(ctx, BlockDevice{ID: "c1", Path: disk}); err != nil {
		t.Fatalf("HotplugBlock in the jail: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "drive_0.device")); err != nil {
		t.Errorf("container device in the jail: %v", err)
	}

	if err := fc.StopVM(ctx); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(root)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("jail after StopVM: got %v, want it removed", err)
	}
	if _, err := os.Stat(disk); err != nil {
		t.Errorf("container device after StopVM: got %v, want the host file kept", err)
	}
	if _, err := os.Stat(f.kernel); err != nil {
		t.Errorf("kernel after StopVM: got %v, want the host file kept", err)
	}
}

func TestFirecrackerJailerArgs(t *testing.T) {
	f := newFCFixture(t)
	hc := f.config()
	hc.JailerPath = f.jailer
	opts := f.options()
	opts.JailerUID, opts.JailerGID = 1000, 1001
	fc, err := NewFirecracker("args", hc, AgentConfig{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(fc.jailerArgs(), " ")
	want := "--id args --exec-file " + f.bin + " --uid 1000 --gid 1001 --chroot-base-dir " + f.runRoot + " -- --api-sock /firecracker.socket"
	if got != want {
		t.Errorf("jailer arguments:\ngot  %s\nwant %s", got, want)
	}
}

func TestNewFirecrackerRejectsBadConfig(t *testing.T) {
	f := newFCFixture(t)
	notExec := filepath.Join(f.dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		id      string
		modify  func(*HypervisorConfig)
		wantErr string
	}{
		{"missing binary", "sb", func(hc *HypervisorConfig) { hc.Path = filepath.Join(f.dir, "bin", "nope") }, "Firecracker binary: stat"},
		{"empty path", "sb", func(hc *HypervisorConfig) { hc.Path = "" }, "missing Firecracker binary"},
		{"binary not executable", "sb", func(hc *HypervisorConfig) { hc.Path = notExec }, "is not an executable file"},
		{"path outside valid_hypervisor_paths", "sb", func(hc *HypervisorConfig) {
			hc.ValidHypervisorPaths = []string{"/usr/bin/firecracker*"}
		}, "is not in valid_hypervisor_paths"},
		{"jailer outside valid_jailer_paths", "sb", func(hc *HypervisorConfig) {
			hc.JailerPath = f.jailer
			hc.ValidJailerPaths = []string{"/usr/bin/jailer", filepath.Join(f.dir, "other", "*")}
		}, "jailer_path " + f.jailer + " is not in valid_jailer_paths"},
		{"invalid glob", "sb", func(hc *HypervisorConfig) {
			hc.JailerPath = f.jailer
			hc.ValidJailerPaths = []string{"/usr/bin/[jailer"}
		}, "invalid glob"},
		{"missing jailer", "sb", func(hc *HypervisorConfig) {
			hc.JailerPath = filepath.Join(f.dir, "bin", "jailer-missing")
		}, "jailer binary: stat"},
		{"missing jailer matched only by a glob", "sb", func(hc *HypervisorConfig) {
			// Globs expand against existing files, as in upstream Kata.
			hc.JailerPath = filepath.Join(f.dir, "bin", "jailer-missing")
			hc.ValidJailerPaths = []string{filepath.Join(f.dir, "bin", "*")}
		}, "is not in valid_jailer_paths"},
		{"missing kernel", "sb", func(hc *HypervisorConfig) { hc.KernelPath = "" }, "missing guest kernel"},
		{"missing image", "sb", func(hc *HypervisorConfig) { hc.ImagePath = "" }, "missing guest image"},
		{"image not found", "sb", func(hc *HypervisorConfig) { hc.ImagePath = filepath.Join(f.dir, "nope.img") }, "guest image: stat"},
		{"virtio-blk driver", "sb", func(hc *HypervisorConfig) { hc.BlockDeviceDriver = BlockDriverVirtioBlk }, "virtio-mmio only"},
		{"too many vcpus", "sb", func(hc *HypervisorConfig) { hc.DefaultVCPUs = 33 }, "1 to 32 vCPUs"},
		{"id with slash", "a/b", func(hc *HypervisorConfig) {}, "invalid sandbox id"},
		{"id with underscore", "pod_1", func(hc *HypervisorConfig) {}, "invalid sandbox id \"pod_1\""},
		{"id of 65 characters", strings.Repeat("a", 65), func(hc *HypervisorConfig) {}, "1 to 64 letters, digits and hyphens"},
		{"empty id", "", func(hc *HypervisorConfig) {}, "invalid sandbox id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := f.config()
			tt.modify(&hc)
			_, err := NewFirecracker(tt.id, hc, AgentConfig{}, f.options())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewFirecracker: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}

	hc := f.config()
	hc.JailerPath = f.jailer
	hc.ValidJailerPaths = []string{filepath.Join(f.dir, "bin", "j*")}
	hc.ValidHypervisorPaths = []string{filepath.Join(f.dir, "bin", "fire*")}
	if _, err := NewFirecracker(strings.Repeat("0123456789abcdef", 4), hc, AgentConfig{}, f.options()); err != nil {
		t.Errorf("NewFirecracker with paths inside the globs: %v", err)
	}
}

func TestGuestRootDevice(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name        string
		partitioned bool
		want        string
	}{
		{"partition table", true, "/dev/vda1"},
		{"bare filesystem", false, "/dev/vda"},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, tt.name)
		writeDiskImage(t, p, tt.partitioned)
		got, err := guestRootDevice(p)
		if err != nil || got != tt.want {
			t.Errorf("guestRootDevice(%s): got %q, %v; want %s", tt.name, got, err, tt.want)
		}
	}
	if _, err := guestRootDevice(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("guestRootDevice of a missing image: got nil error")
	}
}

func TestVirtioBlockName(t *testing.T) {
	tests := []struct {
		index int
		want  string
	}{
		{0, "/dev/vda"}, {1, "/dev/vdb"}, {25, "/dev/vdz"}, {26, "/dev/vdaa"}, {27, "/dev/vdab"}, {701, "/dev/vdzz"}, {702, "/dev/vdaaa"},
	}
	for _, tt := range tests {
		if got := virtioBlockName(tt.index); got != tt.want {
			t.Errorf("virtioBlockName(%d): got %s, want %s", tt.index, got, tt.want)
		}
	}
}

func TestLineLimiter(t *testing.T) {
	start := time.Unix(1000, 0)
	l := lineLimiter{perSecond: 2}
	steps := []struct {
		at             time.Duration
		wantAllowed    bool
		wantSuppressed int
	}{
		{0, true, 0},
		{100 * time.Millisecond, true, 0},
		{200 * time.Millisecond, false, 0},
		{300 * time.Millisecond, false, 0},
		{1100 * time.Millisecond, true, 2},
		{1200 * time.Millisecond, true, 0},
		{5 * time.Second, true, 0},
	}
	for i, st := range steps {
		allowed, suppressed := l.allow(start.Add(st.at))
		if allowed != st.wantAllowed || suppressed != st.wantSuppressed {
			t.Errorf("step %d at +%s: got allowed=%v suppressed=%d, want allowed=%v suppressed=%d",
				i, st.at, allowed, suppressed, st.wantAllowed, st.wantSuppressed)
		}
	}
}

// mountPoints returns the mount points under dir, from /proc/self/mountinfo.
func mountPoints(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	return out
}

func TestFirecrackerJailerBindMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs and bind-mount files into the jail")
	}
	f := newFCFixture(t)

	// Boot files on another filesystem cannot be hard-linked into the jail,
	// so the backend bind-mounts them.
	assets := filepath.Join(f.dir, "assets")
	if err := os.Mkdir(assets, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", assets, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("needs tmpfs mounts: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(assets, unix.MNT_DETACH) })

	hc := f.config()
	hc.KernelPath = filepath.Join(assets, "Image")
	hc.ImagePath = filepath.Join(assets, "kata-containers.img")
	writeRISCVImage(t, hc.KernelPath)
	writeDiskImage(t, hc.ImagePath, true)
	disk := filepath.Join(assets, "c1.img")
	writeDiskImage(t, disk, false)
	hc.JailerPath = f.jailer
	opts := f.options()
	opts.ContainerDrives = 1

	fc := f.start(t, "bound", hc, opts)
	if _, err := fc.HotplugBlock(context.Background(), BlockDevice{ID: "c1", Path: disk}); err != nil {
		t.Fatalf("HotplugBlock from another filesystem: %v", err)
	}

	root := fc.VMDir()
	got := strings.Join(mountPoints(t, root), " ")
	want := strings.Join([]string{root + "/vmlinux", root + "/rootfs.img", root + "/drive_0.device"}, " ")
	if got != want {
		t.Errorf("bind mounts in the jail:\ngot  %s\nwant %s", got, want)
	}

	if err := fc.StopVM(context.Background()); err != nil {
		t.Fatalf("StopVM: %v", err)
	}
	if left := mountPoints(t, root); len(left) > 0 {
		t.Errorf("bind mounts after StopVM: got %v, want none", left)
	}
	if _, err := os.Stat(filepath.Dir(root)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("jail after StopVM: got %v, want it removed", err)
	}
	for _, p := range []string{hc.KernelPath, hc.ImagePath, disk} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("host file %s after StopVM: %v", p, err)
		}
	}
}

func TestFirecrackerConfigFailureCleansUp(t *testing.T) {
	f := newFCFixture(t)
	opts := f.options()
	opts.Networks = []FirecrackerNetwork{{ID: "eth0", HostDevName: "tap0", MTU: 10}}
	fc, err := NewFirecracker("badnet", f.config(), AgentConfig{}, opts)
	if err != nil {
		t.Fatal(err)
	}

	err = fc.StartVM(context.Background())
	var apiErr *firecracker.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("StartVM with an MTU of 10: got %v, want a Firecracker API error", err)
	}
	for _, want := range []string{"network interface eth0 (tap tap0)", "PUT /network-interfaces/eth0", `"mtu":10`, "below the minimum 68"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("StartVM error %q: want it to contain %q", err, want)
		}
	}

	select {
	case <-fc.Exited():
	default:
		t.Errorf("Exited after a failed configuration: channel still open, the VMM still runs")
	}
	if _, err := os.Stat(filepath.Join(f.runRoot, "firecracker", "badnet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VM directory after a failed configuration: got %v, want it removed", err)
	}
	reqs := configRequests(f.requests(t))
	if last := reqs[len(reqs)-1]; !strings.HasPrefix(last, "PUT /network-interfaces/eth0") {
		t.Errorf("last request: got %s, want the rejected PUT /network-interfaces/eth0", last)
	}
}

func TestFirecrackerJailerOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	f := newFCFixture(t)
	hc := f.config()
	hc.JailerPath = f.jailer
	opts := f.options()
	opts.ContainerDrives = 1
	opts.JailerUID, opts.JailerGID = 4242, 4343
	fc := f.start(t, "owned", hc, opts)

	disk := filepath.Join(f.dir, "c1.img")
	writeDiskImage(t, disk, false)
	if _, err := fc.HotplugBlock(context.Background(), BlockDevice{ID: "c1", Path: disk}); err != nil {
		t.Fatalf("HotplugBlock: %v", err)
	}

	root := fc.VMDir()
	for _, name := range []string{"", "drive_0", "logs.fifo", "metrics.fifo", "drive_0.device"} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(root, name), &st); err != nil {
			t.Errorf("stat %q in the jail: %v", name, err)
			continue
		}
		if st.Uid != 4242 || st.Gid != 4343 {
			t.Errorf("owner of %q in the jail: got %d:%d, want 4242:4343", name, st.Uid, st.Gid)
		}
	}
}

func TestFirecrackerLongSandboxID(t *testing.T) {
	f := newFCFixture(t)
	id := strings.Repeat("0123456789abcdef", 4)
	fc := f.start(t, id, f.config(), f.options())

	wantDir := filepath.Join(f.runRoot, "firecracker", id[:32], "root")
	if fc.VMDir() != wantDir {
		t.Errorf("VMDir for a 64-character id: got %s, want %s", fc.VMDir(), wantDir)
	}
	info, err := firecracker.NewClient(filepath.Join(fc.VMDir(), "firecracker.socket")).DescribeInstance(context.Background())
	if err != nil || info.ID != id[:32] {
		t.Errorf("instance id: got %+v, %v; want %s", info, err, id[:32])
	}

	long := filepath.Join(f.dir, strings.Repeat("r", 60))
	opts := f.options()
	opts.RunRoot = long
	_, err = NewFirecracker(id, f.config(), AgentConfig{}, opts)
	if err == nil || !strings.Contains(err.Error(), "longer than the 107 a Unix socket allows") {
		t.Errorf("NewFirecracker with a %d-byte run root: got %v, want a socket path length error", len(long), err)
	}
}

func TestFirecrackerUnexpectedExitLogged(t *testing.T) {
	f := newFCFixture(t)
	fc := f.start(t, "crash", f.config(), f.options())

	pids := fc.PIDs()
	if len(pids) != 1 {
		t.Fatalf("PIDs: got %v, want one", pids)
	}
	if err := unix.Kill(pids[0], unix.SIGKILL); err != nil {
		t.Fatalf("killing the stand-in VMM: %v", err)
	}
	select {
	case <-fc.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("Exited after the VMM was killed: still open")
	}
	entry := waitForLog(t, f.hook, func(e *logrus.Entry) bool { return strings.Contains(e.Message, "exited on its own") })
	if entry == nil || entry.Level != logrus.WarnLevel {
		t.Errorf("log after an exit the backend did not cause: got %v, want a warning", entry)
	}

	if err := fc.StopVM(context.Background()); err != nil {
		t.Errorf("StopVM after the VMM died: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(fc.VMDir())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VM directory after StopVM: got %v, want it removed", err)
	}
}

func TestFirecrackerConcurrentHotplug(t *testing.T) {
	f := newFCFixture(t)
	opts := f.options()
	opts.ContainerDrives = 4
	fc := f.start(t, "parallel", f.config(), opts)

	type result struct {
		guest string
		err   error
	}
	results := make(chan result, 4)
	for i := range 4 {
		disk := filepath.Join(f.dir, fmt.Sprintf("c%d.img", i))
		writeDiskImage(t, disk, false)
		go func() {
			guest, err := fc.HotplugBlock(context.Background(), BlockDevice{ID: fmt.Sprintf("c%d", i), Path: disk})
			results <- result{guest, err}
			_ = fc.PIDs()
		}()
	}

	seen := map[string]bool{}
	for range 4 {
		r := <-results
		if r.err != nil {
			t.Errorf("concurrent HotplugBlock: %v", r.err)
			continue
		}
		if seen[r.guest] {
			t.Errorf("guest path %s returned twice", r.guest)
		}
		seen[r.guest] = true
	}
	for _, want := range []string{"/dev/vdb", "/dev/vdc", "/dev/vdd", "/dev/vde"} {
		if !seen[want] {
			t.Errorf("guest paths %v: want %s among them", seen, want)
		}
	}
}

func TestFirecrackerThroughHypervisorFactory(t *testing.T) {
	f := newFCFixture(t)
	h, err := NewHypervisor(FirecrackerHypervisor, HypervisorParams{
		ID:     "factory",
		Config: f.config(),
		Paths:  Paths{VMRoot: filepath.Join(f.runRoot, "vm")},
	})
	if err != nil {
		t.Fatalf("NewHypervisor(firecracker): %v", err)
	}

	dial := func(ctx context.Context, url string) error {
		c, err := client.Dial(ctx, url, client.WithHandshakeTimeout(2*time.Second))
		if err != nil {
			return err
		}
		return c.Close()
	}
	if err := StartVMAndWaitForAgent(context.Background(), h, dial, 20*time.Second); err != nil {
		t.Fatalf("StartVMAndWaitForAgent: %v", err)
	}
	defer func() { _ = h.StopVM(context.Background()) }()

	url, _ := h.AgentURL()
	want := "hvsock://" + filepath.Join(f.runRoot, "firecracker", "factory", "root", "kata.hvsock") + ":1024"
	if url != want {
		t.Errorf("AgentURL: got %s, want %s (upstream's <run root>/firecracker/<id>/root layout)", url, want)
	}
	if _, ok := h.SharedFS(); ok {
		t.Errorf("SharedFS: got ok=true, want false")
	}
}

// TestFirecrackerStatePollBounded checks that a state poll gives up at the
// boot timeout when the API accepts connections but never replies, instead
// of waiting for the HTTP client's own, longer timeout on each request.
func TestFirecrackerStatePollBounded(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 64)
	defer func() {
		l.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	fc := &Firecracker{
		id:     "poll-bounded",
		opts:   FirecrackerOptions{BootTimeout: 300 * time.Millisecond},
		client: firecracker.NewClient(sock),
		exited: make(chan struct{}),
		log:    logrus.NewEntry(logrus.New()),
	}
	done := make(chan error, 1)
	go func() { done <- fc.waitForState(context.Background(), firecracker.StateRunning) }()

	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("waitForState = %v, want a timeout error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitForState still polling 10 s after a 300 ms boot timeout")
	}
}
