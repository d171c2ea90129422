package virtcontainers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/containerd/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
)

// fcSandbox is a sandbox on the stand-in Firecracker with the fake agent.
type fcSandbox struct {
	*Sandbox
	f     *fcFixture
	agent *fakeAgent
	paths Paths
	// vmDir is the VM directory, where the placeholder drive files are.
	vmDir string
}

// startFCSandbox creates sandbox id with drives placeholder drives. convert
// sets convert_rootfs_directory. The test's cleanup deletes the sandbox.
func startFCSandbox(t *testing.T, id string, drives int, convert bool) *fcSandbox {
	t.Helper()
	f := newFCFixture(t)
	hc := f.config()
	hc.ConvertRootfsDirectory = convert
	opts := f.options()
	opts.ContainerDrives = drives

	sb := &fcSandbox{f: f, agent: newFakeAgent(), paths: testPaths(t)}
	deps := sandboxDeps{
		newHypervisor: func(HypervisorType, HypervisorParams) (Hypervisor, error) {
			fc, err := NewFirecracker(id, hc, AgentConfig{}, opts)
			if err == nil {
				sb.vmDir = fc.VMDir()
			}
			return fc, err
		},
		dialAgent: func(context.Context, string) (Agent, error) { return sb.agent, nil },
	}
	cfg := SandboxConfig{ID: id, HypervisorType: FirecrackerHypervisor, Hypervisor: hc, Paths: sb.paths}
	s, err := createSandbox(context.Background(), cfg, deps)
	if err != nil {
		t.Fatalf("createSandbox on the stand-in Firecracker: %v", err)
	}
	t.Cleanup(func() { _ = s.Delete(context.Background()) })
	sb.Sandbox = s
	return sb
}

// drivePatches returns the PATCH /drives requests the stand-in received, as
// "drive_id path_on_host".
func (sb *fcSandbox) drivePatches(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range sb.f.requests(t) {
		if r.Method != "PATCH" || !strings.HasPrefix(r.Path, "/drives/") {
			continue
		}
		if r.StatusCode != 204 {
			t.Errorf("%s %s %s: status %d, want 204", r.Method, r.Path, r.Body, r.StatusCode)
		}
		var body firecracker.PartialDrive
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("PATCH %s body %q: %v", r.Path, r.Body, err)
		}
		out = append(out, body.DriveID+" "+body.PathOnHost)
	}
	return out
}

// placeholder returns the path of placeholder drive i's empty file.
func (sb *fcSandbox) placeholder(i int) string {
	return filepath.Join(sb.vmDir, fmt.Sprintf("drive_%d", i))
}

// dirRootfs returns a container rootfs directory with a few files.
func dirRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "app"), []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dirSpec returns a spec whose root is dir, as ctr run --rootfs DIR gives.
func dirSpec(dir string, readOnly bool) *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"/bin/app"}},
		Root:    &specs.Root{Path: dir, Readonly: readOnly},
	}
}

func requireMkfsExt4(t *testing.T) {
	t.Helper()
	if _, err := findE2fsprogsTool("mkfs.ext4"); err != nil {
		t.Skipf("converting a rootfs directory needs e2fsprogs: %v", err)
	}
}

// blockDeviceNode creates a block device node for the loop device 7:minor,
// which the stand-in Firecracker accepts as a drive without opening it.
func blockDeviceNode(t *testing.T, minor uint32) string {
	t.Helper()
	requireRoot(t)
	p := filepath.Join(t.TempDir(), "dm-thin")
	if err := unix.Mknod(p, unix.S_IFBLK|0o600, int(unix.Mkdev(7, minor))); err != nil {
		t.Skipf("creating a block device node: %v", err)
	}
	return p
}

func TestFirecrackerContainerBlockDevice(t *testing.T) {
	sb := startFCSandbox(t, "fcblk-dev", 2, false)
	ctx := context.Background()

	tests := []struct {
		id       string
		mount    mount.Mount
		readOnly bool
		guest    string
		want     AgentStorage
	}{
		{
			id:    "c-ext4",
			mount: mount.Mount{Type: "ext4", Source: blockDeviceNode(t, 0), Options: []string{"rw"}},
			guest: "/dev/vdb",
			want: AgentStorage{Driver: "mmioblk", Source: "/dev/vdb", FSType: "ext4", Options: []string{"rw"},
				MountPoint: "/run/kata-containers/shared/containers/c-ext4/rootfs"},
		},
		{
			id:       "c-xfs-ro",
			mount:    mount.Mount{Type: "xfs", Source: blockDeviceNode(t, 1), Options: []string{"rw"}},
			readOnly: true,
			guest:    "/dev/vdc",
			want: AgentStorage{Driver: "mmioblk", Source: "/dev/vdc", FSType: "xfs", Options: []string{"nouuid", "ro"},
				MountPoint: "/run/kata-containers/shared/containers/c-xfs-ro/rootfs"},
		},
	}

	var containers []*Container
	for _, tt := range tests {
		bundle := t.TempDir()
		spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/app"}}, Root: &specs.Root{Path: "rootfs", Readonly: tt.readOnly}}
		c, err := sb.CreateContainer(ctx, ContainerConfig{ID: tt.id, Spec: spec, BundlePath: bundle, Rootfs: []mount.Mount{tt.mount}})
		if err != nil {
			t.Fatalf("CreateContainer(%s): %v", tt.id, err)
		}
		containers = append(containers, c)

		storages := sb.agent.storages[tt.id]
		if len(storages) != 1 || !reflect.DeepEqual(storages[0], tt.want) {
			t.Errorf("%s: storages sent to the agent = %+v, want [%+v]", tt.id, storages, tt.want)
		}
		got := sb.agent.specs[tt.id]
		if got == nil || got.Root.Path != tt.want.MountPoint || got.Root.Readonly != tt.readOnly {
			t.Errorf("%s: guest root = %+v, want %s with read-only %v", tt.id, got.Root, tt.want.MountPoint, tt.readOnly)
		}
		if isMountPoint(t, filepath.Join(bundle, "rootfs")) {
			t.Errorf("%s: the block device is mounted on the host too, want it mounted only in the guest", tt.id)
		}
	}

	if got, want := sb.drivePatches(t), []string{
		"drive_0 " + tests[0].mount.Source,
		"drive_1 " + tests[1].mount.Source,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("drive PATCH requests = %q, want %q", got, want)
	}

	for _, c := range containers {
		if err := c.Delete(ctx); err != nil {
			t.Errorf("Delete(%s): %v", c.ID(), err)
		}
	}
	patches := sb.drivePatches(t)
	if got, want := patches[2:], []string{"drive_0 " + sb.placeholder(0), "drive_1 " + sb.placeholder(1)}; !reflect.DeepEqual(got, want) {
		t.Errorf("drive PATCH requests after Delete = %q, want the placeholders back: %q", got, want)
	}
	if got := sb.agent.removed; !reflect.DeepEqual(got, []string{"c-ext4", "c-xfs-ro"}) {
		t.Errorf("agent RemoveContainer calls = %v, want both containers", got)
	}
}

func TestFirecrackerContainerDirectoryConverted(t *testing.T) {
	requireMkfsExt4(t)
	sb := startFCSandbox(t, "fcblk-conv", 2, true)
	ctx := context.Background()
	rootfs := dirRootfs(t)

	c, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c1", Spec: dirSpec(rootfs, true), BundlePath: t.TempDir()})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}

	image := sb.paths.RootfsImage("fcblk-conv", "c1")
	if st, err := os.Stat(image); err != nil || st.Size() < rootfsImageFreeBytes {
		t.Fatalf("rootfs image %s: %v, size %v; want a file of at least %d bytes", image, err, st, rootfsImageFreeBytes)
	}
	want := AgentStorage{Driver: "mmioblk", Source: "/dev/vdb", FSType: "ext4", Options: []string{"ro"},
		MountPoint: "/run/kata-containers/shared/containers/c1/rootfs"}
	if got := sb.agent.storages["c1"]; len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("storages sent to the agent = %+v, want [%+v]", got, want)
	}
	if got := sb.agent.specs["c1"].Root; got.Path != want.MountPoint || !got.Readonly {
		t.Errorf("guest root = %+v, want %s read-only", got, want.MountPoint)
	}
	if got, want := sb.drivePatches(t), []string{"drive_0 " + image}; !reflect.DeepEqual(got, want) {
		t.Errorf("drive PATCH requests = %q, want %q", got, want)
	}

	if err := c.Delete(ctx); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := os.Stat(image); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rootfs image after Delete: stat error %v, want it removed", err)
	}
	if got, want := sb.drivePatches(t), []string{"drive_0 " + image, "drive_0 " + sb.placeholder(0)}; !reflect.DeepEqual(got, want) {
		t.Errorf("drive PATCH requests after Delete = %q, want %q", got, want)
	}
	if n := sb.ContainerCount(); n != 0 {
		t.Errorf("container count after Delete = %d, want 0", n)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "bin", "app")); err != nil {
		t.Errorf("the source directory lost its files: %v", err)
	}
}

func TestFirecrackerContainerDirectoryWithoutConversion(t *testing.T) {
	sb := startFCSandbox(t, "fcblk-noconv", 2, false)
	rootfs := dirRootfs(t)

	_, err := sb.CreateContainer(context.Background(), ContainerConfig{ID: "c1", Spec: dirSpec(rootfs, false), BundlePath: t.TempDir()})
	if !errors.Is(err, ErrNoSharedFilesystem) {
		t.Fatalf("error = %v, want ErrNoSharedFilesystem", err)
	}
	for _, want := range []string{"container c1", rootfs, "devmapper snapshotter", "convert_rootfs_directory = true in [hypervisor.firecracker]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(sb.paths.RootfsImage("fcblk-noconv", "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rootfs image exists (stat error %v), want none without conversion", err)
	}
	if got := sb.drivePatches(t); len(got) != 0 {
		t.Errorf("drive PATCH requests = %q, want none", got)
	}
	if n := sb.ContainerCount(); n != 0 {
		t.Errorf("container count = %d after a failed create, want 0", n)
	}
}

func TestFirecrackerContainerAgentFailureCleansUp(t *testing.T) {
	requireMkfsExt4(t)
	sb := startFCSandbox(t, "fcblk-agentfail", 1, true)
	ctx := context.Background()
	sb.agent.createErr = errors.New("crun: no such file: /bin/app")

	_, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c1", Spec: dirSpec(dirRootfs(t), false), BundlePath: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "crun: no such file") {
		t.Fatalf("CreateContainer error = %v, want the agent's", err)
	}
	image := sb.paths.RootfsImage("fcblk-agentfail", "c1")
	if _, err := os.Stat(image); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rootfs image after a failed create: stat error %v, want it removed", err)
	}
	if got, want := sb.drivePatches(t), []string{"drive_0 " + image, "drive_0 " + sb.placeholder(0)}; !reflect.DeepEqual(got, want) {
		t.Errorf("drive PATCH requests = %q, want the drive filled and given back: %q", got, want)
	}
	if n := sb.ContainerCount(); n != 0 {
		t.Errorf("container count = %d after a failed create, want 0", n)
	}

	// The only drive is free again.
	sb.agent.createErr = nil
	if _, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c1", Spec: dirSpec(dirRootfs(t), false), BundlePath: t.TempDir()}); err != nil {
		t.Fatalf("CreateContainer after the failure: %v", err)
	}
	if got := sb.agent.storages["c1"]; len(got) != 1 || got[0].Source != "/dev/vdb" {
		t.Errorf("storages = %+v, want the first drive /dev/vdb again", got)
	}
}

func TestFirecrackerContainerDrivesExhausted(t *testing.T) {
	requireMkfsExt4(t)
	sb := startFCSandbox(t, "fcblk-full", 1, true)
	ctx := context.Background()

	c1, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c1", Spec: dirSpec(dirRootfs(t), false), BundlePath: t.TempDir()})
	if err != nil {
		t.Fatalf("CreateContainer(c1): %v", err)
	}
	_, err = sb.CreateContainer(ctx, ContainerConfig{ID: "c2", Spec: dirSpec(dirRootfs(t), false), BundlePath: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "all 1 placeholder drives are in use") {
		t.Fatalf("CreateContainer(c2) error = %v, want all placeholder drives in use", err)
	}
	if _, err := os.Stat(sb.paths.RootfsImage("fcblk-full", "c2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("c2's rootfs image after the failure: stat error %v, want it removed", err)
	}
	if _, err := os.Stat(sb.paths.RootfsImage("fcblk-full", "c1")); err != nil {
		t.Errorf("c1's rootfs image: %v, want it kept", err)
	}
	if n := sb.ContainerCount(); n != 1 {
		t.Errorf("container count = %d, want 1", n)
	}

	if err := c1.Delete(ctx); err != nil {
		t.Fatalf("Delete(c1): %v", err)
	}
	if _, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c2", Spec: dirSpec(dirRootfs(t), false), BundlePath: t.TempDir()}); err != nil {
		t.Fatalf("CreateContainer(c2) after deleting c1: %v", err)
	}
}

func TestFirecrackerSandboxDeleteReleasesContainers(t *testing.T) {
	requireRoot(t)
	requireMkfsExt4(t)
	sb := startFCSandbox(t, "fcblk-teardown", 2, true)
	ctx := context.Background()

	// An overlay snapshot becomes a directory once it is mounted on the
	// host. A bind mount replaces it here, with the same steps.
	bundle := t.TempDir()
	rootfs := []mount.Mount{{Type: "bind", Source: dirRootfs(t), Options: []string{"rbind", "ro"}}}
	spec := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/app"}}, Root: &specs.Root{Path: "rootfs"}}
	if _, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c1", Spec: spec, BundlePath: bundle, Rootfs: rootfs}); err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	hostRootfs := filepath.Join(bundle, "rootfs")
	if !isMountPoint(t, hostRootfs) {
		t.Fatalf("%s is not mounted while the container exists", hostRootfs)
	}
	image := sb.paths.RootfsImage("fcblk-teardown", "c1")

	if err := sb.Delete(ctx); err != nil {
		t.Fatalf("sandbox Delete: %v", err)
	}
	if isMountPoint(t, hostRootfs) {
		_ = unmount(hostRootfs) // best-effort cleanup before reporting the failure
		t.Errorf("%s still mounted after the sandbox was deleted", hostRootfs)
	}
	if _, err := os.Stat(image); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rootfs image after the sandbox was deleted: stat error %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Dir(sb.vmDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("VM directory after the sandbox was deleted: stat error %v, want it removed", err)
	}
	if n := sb.ContainerCount(); n != 0 {
		t.Errorf("container count after the sandbox was deleted = %d, want 0", n)
	}
}

func TestFirecrackerContainerBindMounts(t *testing.T) {
	requireMkfsExt4(t)
	sb := startFCSandbox(t, "fcblk-binds", 2, true)
	ctx := context.Background()
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	spec := dirSpec(dirRootfs(t), false)
	spec.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "ro"}},
	}
	if _, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c1", Spec: spec, BundlePath: t.TempDir()}); err != nil {
		t.Fatalf("CreateContainer with a file bind mount: %v", err)
	}
	if got := sb.agent.specs["c1"].Mounts; len(got) != 1 || got[0].Destination != "/proc" {
		t.Errorf("guest mounts = %+v, want /proc only: the file bind mount left out", got)
	}

	volume := t.TempDir()
	spec = dirSpec(dirRootfs(t), false)
	spec.Mounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: volume, Options: []string{"rbind"}}}
	_, err := sb.CreateContainer(ctx, ContainerConfig{ID: "c2", Spec: spec, BundlePath: t.TempDir()})
	if !errors.Is(err, ErrNoSharedFilesystem) || !strings.Contains(err.Error(), volume) {
		t.Fatalf("CreateContainer with a directory bind mount: error %v, want ErrNoSharedFilesystem naming %s", err, volume)
	}
	if _, err := os.Stat(sb.paths.RootfsImage("fcblk-binds", "c2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("c2's rootfs image after the failure: stat error %v, want it removed", err)
	}
	if got := sb.drivePatches(t); len(got) != 1 {
		t.Errorf("drive PATCH requests = %q, want c1's only: c2 fails before its rootfs is attached", got)
	}
}

func TestRootfsMountOptions(t *testing.T) {
	tests := []struct {
		fsType   string
		options  []string
		readOnly bool
		want     []string
	}{
		{"ext4", nil, false, nil},
		{"ext4", []string{"rw", "noatime"}, false, []string{"rw", "noatime"}},
		{"ext4", []string{"rw", "noatime"}, true, []string{"noatime", "ro"}},
		{"ext4", []string{"ro"}, true, []string{"ro"}},
		{"xfs", nil, false, []string{"nouuid"}},
		{"xfs", []string{"nouuid", "nouuid"}, true, []string{"nouuid", "ro"}},
	}
	for _, tt := range tests {
		got := rootfsMountOptions(tt.fsType, tt.options, tt.readOnly)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("rootfsMountOptions(%s, %q, read-only %v) = %q, want %q", tt.fsType, tt.options, tt.readOnly, got, tt.want)
		}
	}
}

func TestBlockRootfsMount(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "image")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		name   string
		mounts []mount.Mount
		want   bool
	}
	tests := []testCase{
		{"no mounts", nil, false},
		{"overlay", []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + dir}}}, false},
		{"ext4 on a regular file", []mount.Mount{{Type: "ext4", Source: file}}, false},
		{"ext4 on a character device", []mount.Mount{{Type: "ext4", Source: "/dev/null"}}, false},
		{"ext4 missing source", []mount.Mount{{Type: "ext4", Source: filepath.Join(dir, "missing")}}, false},
	}
	if os.Geteuid() == 0 {
		dev := blockDeviceNode(t, 2)
		tests = append(tests,
			testCase{"ext4 on a block device", []mount.Mount{{Type: "ext4", Source: dev}}, true},
			testCase{"xfs on a block device", []mount.Mount{{Type: "xfs", Source: dev, Options: []string{"ro"}}}, true},
			testCase{"btrfs on a block device", []mount.Mount{{Type: "btrfs", Source: dev}}, false},
			testCase{"two mounts", []mount.Mount{{Type: "ext4", Source: dev}, {Type: "ext4", Source: dev}}, false},
		)
	}
	for _, tt := range tests {
		if _, got := blockRootfsMount(tt.mounts); got != tt.want {
			t.Errorf("%s: blockRootfsMount = %v, want %v", tt.name, got, tt.want)
		}
	}
}
