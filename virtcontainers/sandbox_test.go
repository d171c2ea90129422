package virtcontainers

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fakeHypervisor records calls and runs no VM.
type fakeHypervisor struct {
	startErr  error
	sharedFS  *SharedFSInfo
	pids      []int
	exited    chan struct{}
	mu        sync.Mutex
	started   bool
	stopCalls int
}

func newFakeHypervisor(sharedDir string) *fakeHypervisor {
	return &fakeHypervisor{
		sharedFS: &SharedFSInfo{Type: SharedFSVirtioFS, Tag: sharedFSTag, HostPath: sharedDir},
		pids:     []int{4242},
		exited:   make(chan struct{}),
	}
}

func (h *fakeHypervisor) Type() HypervisorType { return QemuHypervisor }
func (h *fakeHypervisor) StartVM(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started = h.startErr == nil
	return h.startErr
}
func (h *fakeHypervisor) StopVM(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopCalls++
	return nil
}
func (h *fakeHypervisor) PauseVM(context.Context) error  { return nil }
func (h *fakeHypervisor) ResumeVM(context.Context) error { return nil }
func (h *fakeHypervisor) AgentURL() (string, error)      { return "unix:///nonexistent/agent.sock", nil }
func (h *fakeHypervisor) SharedFS() (SharedFSInfo, bool) {
	if h.sharedFS == nil {
		return SharedFSInfo{}, false
	}
	return *h.sharedFS, true
}
func (h *fakeHypervisor) HotplugBlock(context.Context, BlockDevice) (string, error) {
	return "", ErrNotSupported
}
func (h *fakeHypervisor) UnplugBlock(context.Context, string) error { return ErrNotSupported }
func (h *fakeHypervisor) PIDs() []int                               { return h.pids }
func (h *fakeHypervisor) Exited() <-chan struct{}                   { return h.exited }

// fakeAgent records the requests that matter to these tests.
type fakeAgent struct {
	Agent // methods a test does not use panic through the nil interface

	mu         sync.Mutex
	sandbox    *AgentSandbox
	specs      map[string]*specs.Spec
	storages   map[string][]AgentStorage
	removed    []string
	destroyed  bool
	checkErr   error
	createErr  error
	closeCalls int
}

func newFakeAgent() *fakeAgent {
	return &fakeAgent{specs: map[string]*specs.Spec{}, storages: map[string][]AgentStorage{}}
}

func (a *fakeAgent) Check(context.Context) error { return a.checkErr }
func (a *fakeAgent) CreateSandbox(_ context.Context, req AgentSandbox) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sandbox = &req
	return nil
}
func (a *fakeAgent) DestroySandbox(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.destroyed = true
	return nil
}
func (a *fakeAgent) CreateContainer(_ context.Context, id string, spec *specs.Spec, storages []AgentStorage) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.createErr != nil {
		return a.createErr
	}
	a.specs[id] = spec
	a.storages[id] = storages
	return nil
}
func (a *fakeAgent) RemoveContainer(_ context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.removed = append(a.removed, id)
	return nil
}
func (a *fakeAgent) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closeCalls++
	return nil
}

func testPaths(t *testing.T) Paths {
	root := t.TempDir()
	return Paths{
		SandboxRoot: filepath.Join(root, "sbs"),
		VMRoot:      filepath.Join(root, "vm"),
		SharedRoot:  filepath.Join(root, "shared"),
	}
}

func fakeDeps(h *fakeHypervisor, a *fakeAgent) sandboxDeps {
	return sandboxDeps{
		newHypervisor: func(HypervisorType, HypervisorParams) (Hypervisor, error) { return h, nil },
		dialAgent:     func(context.Context, string) (Agent, error) { return a, nil },
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
}

func TestCreateSandboxPersistsState(t *testing.T) {
	paths := testPaths(t)
	h, a := newFakeHypervisor(paths.SharedDir("sb1")), newFakeAgent()

	s, err := createSandbox(context.Background(), SandboxConfig{ID: "sb1", Hostname: "box", Paths: paths}, fakeDeps(h, a))
	if err != nil {
		t.Fatalf("createSandbox: %v", err)
	}

	st, err := LoadState(paths.SandboxDir("sb1"))
	if err != nil {
		t.Fatalf("LoadState: %v", err)
	}
	if len(st.HypervisorPIDs) != 1 || st.HypervisorPIDs[0] != 4242 {
		t.Errorf("persisted pids = %v, want [4242]", st.HypervisorPIDs)
	}
	if a.sandbox == nil || a.sandbox.Hostname != "box" || a.sandbox.SandboxID != "sb1" {
		t.Fatalf("CreateSandbox request = %+v, want hostname box and id sb1", a.sandbox)
	}
	if len(a.sandbox.Storages) != 1 {
		t.Fatalf("storages = %+v, want the shared filesystem only", a.sandbox.Storages)
	}
	if got := a.sandbox.Storages[0]; got.Source != sharedFSTag || got.MountPoint != guestSharedDir || got.FSType != "virtiofs" {
		t.Errorf("shared storage = %+v, want source %s at %s as virtiofs", got, sharedFSTag, guestSharedDir)
	}

	if err := s.Delete(context.Background()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if !a.destroyed {
		t.Error("Delete did not call DestroySandbox")
	}
	if h.stopCalls != 1 {
		t.Errorf("StopVM calls = %d, want 1", h.stopCalls)
	}
	for _, dir := range []string{paths.SandboxDir("sb1"), paths.SharedDir("sb1")} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Delete (stat error %v)", dir, err)
		}
	}
}

func TestCreateSandboxStartFailureCleansUp(t *testing.T) {
	paths := testPaths(t)
	h, a := newFakeHypervisor(paths.SharedDir("sb2")), newFakeAgent()
	h.startErr = errors.New("qemu exploded")

	_, err := createSandbox(context.Background(), SandboxConfig{ID: "sb2", Paths: paths}, fakeDeps(h, a))
	if err == nil || !strings.Contains(err.Error(), "qemu exploded") {
		t.Fatalf("error = %v, want the StartVM failure", err)
	}
	if h.stopCalls != 1 {
		t.Errorf("StopVM calls = %d, want 1 (cleanup after a failed start)", h.stopCalls)
	}
	if _, err := os.Stat(paths.SandboxDir("sb2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sandbox directory left behind (stat error %v)", err)
	}
}

func TestCreateSandboxAgentTimeout(t *testing.T) {
	paths := testPaths(t)
	h, a := newFakeHypervisor(paths.SharedDir("sb3")), newFakeAgent()
	a.checkErr = errors.New("not serving")

	cfg := SandboxConfig{ID: "sb3", Paths: paths, Agent: AgentConfig{DialTimeout: 300 * time.Millisecond}}
	_, err := createSandbox(context.Background(), cfg, fakeDeps(h, a))
	if err == nil || !strings.Contains(err.Error(), "dial_timeout") {
		t.Fatalf("error = %v, want a health check failure naming dial_timeout", err)
	}
	if h.stopCalls != 1 {
		t.Errorf("StopVM calls = %d, want 1", h.stopCalls)
	}
	if a.closeCalls != 1 {
		t.Errorf("agent Close calls = %d, want 1", a.closeCalls)
	}
}

func TestCreateSandboxInvalidID(t *testing.T) {
	paths := testPaths(t)
	h, a := newFakeHypervisor(""), newFakeAgent()
	for _, id := range []string{"", "../escape", "a/b", ".hidden"} {
		_, err := createSandbox(context.Background(), SandboxConfig{ID: id, Paths: paths}, fakeDeps(h, a))
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("id %q: error = %v, want ErrInvalidID", id, err)
		}
	}
}

func isMountPoint(t *testing.T, path string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("reading mountinfo: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == path {
			return true
		}
	}
	return false
}

func TestCreateContainerSharesRootfsAndMounts(t *testing.T) {
	requireRoot(t)
	paths := testPaths(t)
	h, a := newFakeHypervisor(paths.SharedDir("sb4")), newFakeAgent()
	s, err := createSandbox(context.Background(), SandboxConfig{ID: "sb4", Paths: paths, DisableGuestSeccomp: true}, fakeDeps(h, a))
	if err != nil {
		t.Fatalf("createSandbox: %v", err)
	}
	defer func() { _ = s.Delete(context.Background()) }() // best-effort cleanup

	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	hostsFile := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hostsFile, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/true"}},
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/etc/hosts", Type: "bind", Source: hostsFile, Options: []string{"rbind", "ro"}},
		},
		Hooks: &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/usr/bin/host-hook"}}},
		Linux: &specs.Linux{
			CgroupsPath: "system.slice:cri-containerd:c1",
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace, Path: "/var/run/netns/cni-1"},
				{Type: specs.MountNamespace},
			},
			Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActErrno},
		},
	}

	c, err := s.CreateContainer(context.Background(), ContainerConfig{ID: "c1", Spec: spec, BundlePath: bundle})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}

	got := a.specs["c1"]
	if got == nil {
		t.Fatal("agent got no CreateContainer")
	}
	if want := guestSharedDir + "/c1/rootfs"; got.Root.Path != want || !got.Root.Readonly {
		t.Errorf("guest root = %+v, want %s read-only", got.Root, want)
	}
	sharedRoot := filepath.Join(paths.SharedDir("sb4"), "c1", "rootfs")
	if !isMountPoint(t, sharedRoot) {
		t.Errorf("%s is not a mount point", sharedRoot)
	}
	if _, err := os.Stat(filepath.Join(sharedRoot, "bin")); err != nil {
		t.Errorf("rootfs content not visible through the shared directory: %v", err)
	}
	if src := got.Mounts[1].Source; !strings.HasPrefix(src, guestSharedDir+"/c1/") {
		t.Errorf("/etc/hosts source = %s, want a path under %s/c1", src, guestSharedDir)
	}
	if got.Mounts[0].Source != "proc" {
		t.Errorf("proc mount source = %s, want it unchanged", got.Mounts[0].Source)
	}
	if got.Hooks != nil {
		t.Errorf("hooks = %+v, want none in the guest", got.Hooks)
	}
	for _, ns := range got.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace || ns.Path != "" {
			t.Errorf("guest namespace %+v, want no network namespace and no paths", ns)
		}
	}
	if len(got.Linux.Namespaces) != 2 {
		t.Errorf("guest namespaces = %+v, want pid and mount", got.Linux.Namespaces)
	}
	if got.Linux.CgroupsPath != "/kata/c1" {
		t.Errorf("cgroups path = %s, want /kata/c1", got.Linux.CgroupsPath)
	}
	if got.Linux.Seccomp != nil {
		t.Error("seccomp kept although guest seccomp is disabled")
	}
	if spec.Linux.CgroupsPath != "system.slice:cri-containerd:c1" || spec.Hooks == nil {
		t.Error("CreateContainer changed the caller's spec")
	}

	if err := c.Delete(context.Background()); err != nil {
		t.Fatalf("container Delete: %v", err)
	}
	if isMountPoint(t, sharedRoot) {
		t.Errorf("%s still mounted after Delete", sharedRoot)
	}
	if _, err := os.Stat(filepath.Join(paths.SharedDir("sb4"), "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container shared directory left behind (stat error %v)", err)
	}
}

func TestCreateContainerMissingRootfs(t *testing.T) {
	paths := testPaths(t)
	h, a := newFakeHypervisor(paths.SharedDir("sb5")), newFakeAgent()
	s, err := createSandbox(context.Background(), SandboxConfig{ID: "sb5", Paths: paths}, fakeDeps(h, a))
	if err != nil {
		t.Fatalf("createSandbox: %v", err)
	}
	defer func() { _ = s.Delete(context.Background()) }() // best-effort cleanup

	spec := &specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Root: &specs.Root{Path: "/nonexistent/rootfs"}}
	_, err = s.CreateContainer(context.Background(), ContainerConfig{ID: "c1", Spec: spec, BundlePath: t.TempDir()})
	if !errors.Is(err, ErrRootfsNotFound) {
		t.Fatalf("error = %v, want ErrRootfsNotFound", err)
	}
	if n := s.ContainerCount(); n != 0 {
		t.Errorf("container count = %d after a failed create, want 0", n)
	}
}

func TestCreateContainerAgentFailureUnmounts(t *testing.T) {
	requireRoot(t)
	paths := testPaths(t)
	h, a := newFakeHypervisor(paths.SharedDir("sb6")), newFakeAgent()
	a.createErr = errors.New("runc said no")
	s, err := createSandbox(context.Background(), SandboxConfig{ID: "sb6", Paths: paths}, fakeDeps(h, a))
	if err != nil {
		t.Fatalf("createSandbox: %v", err)
	}
	defer func() { _ = s.Delete(context.Background()) }() // best-effort cleanup

	rootfs := t.TempDir()
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Root: &specs.Root{Path: rootfs}}
	if _, err := s.CreateContainer(context.Background(), ContainerConfig{ID: "c1", Spec: spec, BundlePath: t.TempDir()}); err == nil {
		t.Fatal("CreateContainer succeeded, want the agent's error")
	}
	if isMountPoint(t, filepath.Join(paths.SharedDir("sb6"), "c1", "rootfs")) {
		t.Error("rootfs still mounted after a failed create")
	}
}

func TestCreateContainerWithoutSharedFS(t *testing.T) {
	paths := testPaths(t)
	h, a := newFakeHypervisor(""), newFakeAgent()
	h.sharedFS = nil
	s, err := createSandbox(context.Background(), SandboxConfig{ID: "sb7", Paths: paths}, fakeDeps(h, a))
	if err != nil {
		t.Fatalf("createSandbox: %v", err)
	}
	defer func() { _ = s.Delete(context.Background()) }() // best-effort cleanup

	spec := &specs.Spec{Process: &specs.Process{Args: []string{"true"}}, Root: &specs.Root{Path: t.TempDir()}}
	_, err = s.CreateContainer(context.Background(), ContainerConfig{ID: "c1", Spec: spec})
	if !errors.Is(err, ErrNoSharedFilesystem) {
		t.Fatalf("error = %v, want ErrNoSharedFilesystem", err)
	}
}

func TestCleanupSandboxKillsVMM(t *testing.T) {
	paths := testPaths(t)
	const id = "sbcleanup-7f3a"

	// A stand-in VMM whose command line names the sandbox, as QEMU's does.
	cmd := exec.Command("/bin/sh", "-c", "sleep 60; true", id)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting stand-in VMM: %v", err)
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }() // the stand-in is expected to be killed

	dir := paths.SandboxDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	shared := paths.SharedDir(id)
	if err := os.MkdirAll(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	st := &SandboxState{ID: id, HypervisorPIDs: []int{cmd.Process.Pid}, Dirs: []string{dir, shared}}
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}

	if err := CleanupSandbox(paths, id); err != nil {
		t.Fatalf("CleanupSandbox: %v", err)
	}
	select {
	case <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("stand-in VMM still runs after CleanupSandbox")
	}
	if ws := cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("stand-in VMM ended with %v, want SIGKILL", cmd.ProcessState)
	}
	for _, d := range []string{dir, shared} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (stat error %v)", d, err)
		}
	}

	if err := CleanupSandbox(paths, id); err != nil {
		t.Errorf("second CleanupSandbox: %v, want nil (nothing left to do)", err)
	}
}

func TestCleanupSandboxSparesOtherProcesses(t *testing.T) {
	paths := testPaths(t)
	const id = "sbspare-19c"

	cmd := exec.Command("/bin/sh", "-c", "sleep 60; true", "unrelated")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }() // best-effort cleanup

	dir := paths.SandboxDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := saveState(dir, &SandboxState{ID: id, HypervisorPIDs: []int{cmd.Process.Pid}}); err != nil {
		t.Fatal(err)
	}
	if err := CleanupSandbox(paths, id); err != nil {
		t.Fatalf("CleanupSandbox: %v", err)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("a process not of the sandbox was killed: %v", err)
	}
}

func TestCleanupSandboxUnmountsContainerMounts(t *testing.T) {
	requireRoot(t)
	paths := testPaths(t)
	const id = "sbmounts-5e1"

	dir := paths.SandboxDir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := saveState(dir, &SandboxState{ID: id}); err != nil {
		t.Fatal(err)
	}
	// A container rootfs the dead shim shared but never persisted.
	target := filepath.Join(paths.SharedDir(id), "c1", "rootfs")
	if err := bindMount(t.TempDir(), target, false); err != nil {
		t.Fatal(err)
	}

	if err := CleanupSandbox(paths, id); err != nil {
		t.Fatalf("CleanupSandbox: %v", err)
	}
	if isMountPoint(t, target) {
		_ = unmount(target) // best-effort cleanup before reporting the failure
		t.Fatalf("%s still mounted after CleanupSandbox", target)
	}
	if _, err := os.Stat(filepath.Dir(paths.SharedDir(id))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("shared directory left behind (stat error %v)", err)
	}
}

func TestSharedFSStorageOptions(t *testing.T) {
	cases := []struct {
		name string
		fs   SharedFSInfo
		want []string
	}{
		{"9p with msize", SharedFSInfo{Type: SharedFS9P, Tag: sharedFSTag, Msize9p: 131072},
			[]string{"trans=virtio", "version=9p2000.L", "cache=mmap", "msize=131072"}},
		{"9p with the kernel's msize", SharedFSInfo{Type: SharedFS9P, Tag: sharedFSTag},
			[]string{"trans=virtio", "version=9p2000.L", "cache=mmap"}},
		{"virtio-fs", SharedFSInfo{Type: SharedFSVirtioFS, Tag: sharedFSTag},
			[]string{"nodev"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := sharedFSStorage(c.fs)
			if !slices.Equal(st.Options, c.want) {
				t.Errorf("options = %q, want %q", st.Options, c.want)
			}
			if st.Source != sharedFSTag {
				t.Errorf("source = %q, want the tag %q", st.Source, sharedFSTag)
			}
		})
	}
}
