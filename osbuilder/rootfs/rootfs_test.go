package rootfs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
)

func TestPlanArgsUbuntu(t *testing.T) {
	d, suite, err := distro.Lookup("ubuntu", "")
	if err != nil {
		t.Fatal(err)
	}
	p := Plan{Distro: d, Suite: suite, Mirror: d.DefaultMirror, Kind: distro.Systemd,
		Keyring:  "/cache/keyrings/ubuntu-keyring/usr/share/keyrings/ubuntu-archive-keyring.gpg",
		CacheDir: "/cache/debs/ubuntu-noble-riscv64", Target: "/out/rootfs"}
	args := p.Args()

	for _, want := range []string{
		"--variant=essential",
		"--architectures=riscv64",
		"--components=main,universe",
		"--include=systemd,systemd-sysv,crun,kmod",
		"--keyring=/cache/keyrings/ubuntu-keyring/usr/share/keyrings/ubuntu-archive-keyring.gpg",
		"--dpkgopt=path-exclude=/usr/share/doc/*",
		"--skip=essential/unlink",
		"--setup-hook=sync-in /cache/debs/ubuntu-noble-riscv64 /var/cache/apt/archives/",
		"--customize-hook=sync-out /var/cache/apt/archives /cache/debs/ubuntu-noble-riscv64",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("Args() lacks %q:\n%s", want, strings.Join(args, "\n"))
		}
	}
	tail := args[len(args)-3:]
	wantTail := []string{"noble", "/out/rootfs", "deb [arch=riscv64] http://ports.ubuntu.com/ubuntu-ports noble main universe"}
	if !slices.Equal(tail, wantTail) {
		t.Errorf("Args() ends with %q, want %q", tail, wantTail)
	}
}

func TestPlanArgsAgentInitNoCache(t *testing.T) {
	d, suite, _ := distro.Lookup("debian", "")
	args := Plan{Distro: d, Suite: suite, Mirror: d.DefaultMirror, Kind: distro.AgentInit,
		Keyring: d.Keyring, Target: "/out"}.Args()
	if !slices.Contains(args, "--variant=extract") || !slices.Contains(args, "--include=crun") {
		t.Errorf("Args() = %q, want the extract variant with crun", args)
	}
	for _, a := range args {
		if strings.Contains(a, "sync-in") || strings.Contains(a, "essential/unlink") {
			t.Errorf("Args() without a cache has %q", a)
		}
	}
}

func TestUnitsFollowUpstream(t *testing.T) {
	tests := []struct {
		unit, content string
		directives    []string
	}{
		{unit: "kata-agent.service", content: AgentService, directives: []string{
			"Wants=kata-containers.target", "Type=simple", "StandardOutput=tty", "ExecStart=/usr/bin/kata-agent",
			"LimitNOFILE=1073741824", "ExecStop=/bin/sync ; /usr/bin/systemctl --force poweroff",
			"FailureAction=poweroff", "OOMScoreAdjust=-997",
		}},
		{unit: KataTarget, content: ContainersTarget, directives: []string{
			"Requires=basic.target", "Requires=tmp.mount", "Wants=chronyd.service", "Requires=kata-agent.service",
			"Conflicts=rescue.service rescue.target", "AllowIsolate=yes",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			lines := strings.Split(tt.content, "\n")
			for _, d := range tt.directives {
				if !slices.Contains(lines, d) {
					t.Errorf("%s lacks the line %q", tt.unit, d)
				}
			}
		})
	}
}

func TestMaskedUnitsValid(t *testing.T) {
	for _, u := range MaskedUnits {
		ext := filepath.Ext(u)
		if !slices.Contains([]string{".service", ".socket", ".timer", ".path", ".mount", ".automount", ".target"}, ext) {
			t.Errorf("masked unit %q has no unit type suffix", u)
		}
		if u == "kata-agent.service" || u == KataTarget || u == "systemd-journald.service" || u == "systemd-modules-load.service" {
			t.Errorf("masked unit %q is one the guest needs", u)
		}
	}
}

func TestCheckForeignExec(t *testing.T) {
	dir := t.TempDir()
	if err := CheckForeignExec("riscv64", dir); err != nil {
		t.Errorf("native riscv64: error = %v, want nil", err)
	}
	err := CheckForeignExec("amd64", dir)
	if err == nil || !strings.Contains(err.Error(), "update-binfmts --enable qemu-riscv64") {
		t.Errorf("missing handler: error = %v, want the fix", err)
	}
	os.WriteFile(filepath.Join(dir, "qemu-riscv64"), []byte("disabled\ninterpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P\n"), 0o644)
	if err := CheckForeignExec("amd64", dir); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled handler: error = %v, want disabled", err)
	}
	os.WriteFile(filepath.Join(dir, "qemu-riscv64"), []byte("enabled\ninterpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P\n"), 0o644)
	if err := CheckForeignExec("amd64", dir); err != nil {
		t.Errorf("enabled handler: error = %v, want nil", err)
	}
}

func fakeAgent(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kata-agent")
	if err := os.WriteFile(p, []byte("agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCustomizeSystemd(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink("../run/systemd/resolve/stub-resolv.conf", filepath.Join(root, "etc/resolv.conf"))
	if err := customizeSystemd(root, fakeAgent(t)); err != nil {
		t.Fatalf("customizeSystemd() error = %v", err)
	}

	if fi, err := os.Stat(filepath.Join(root, AgentPath)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("agent = %v, %v, want mode 0755", fi, err)
	}
	if got, _ := os.Readlink(filepath.Join(root, "etc/systemd/system/default.target")); got != "/usr/lib/systemd/system/kata-containers.target" {
		t.Errorf("default.target -> %q, want kata-containers.target", got)
	}
	if got, _ := os.Readlink(filepath.Join(root, "etc/systemd/system/systemd-firstboot.service")); got != "/dev/null" {
		t.Errorf("systemd-firstboot.service -> %q, want /dev/null (masked)", got)
	}
	fi, err := os.Lstat(filepath.Join(root, "etc/resolv.conf"))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 {
		t.Errorf("resolv.conf = %v, %v, want an empty regular file", fi, err)
	}
	unit, _ := os.ReadFile(filepath.Join(root, UnitDir, "kata-agent.service"))
	if string(unit) != AgentService {
		t.Errorf("kata-agent.service content differs from AgentService")
	}
}

func TestCustomizeAgentInit(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/lib/riscv64-linux-gnu/gconv", "usr/share/doc/crun", "var/lib/dpkg", "etc"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "usr/lib/riscv64-linux-gnu/libcrun.a"), []byte("archive"), 0o644)
	os.WriteFile(filepath.Join(root, "usr/lib/riscv64-linux-gnu/libc.so.6"), []byte("libc"), 0o755)

	if err := customizeAgentInit(root, fakeAgent(t)); err != nil {
		t.Fatalf("customizeAgentInit() error = %v", err)
	}
	if got, _ := os.Readlink(filepath.Join(root, "sbin")); got != "usr/sbin" {
		t.Errorf("/sbin -> %q, want usr/sbin", got)
	}
	if got, _ := os.Readlink(filepath.Join(root, "usr/sbin/init")); got != "../bin/kata-agent" {
		t.Errorf("/sbin/init -> %q, want ../bin/kata-agent", got)
	}
	data, err := os.ReadFile(filepath.Join(root, "sbin/init"))
	if err != nil || string(data) != "agent" {
		t.Errorf("reading /sbin/init = %q, %v, want the agent", data, err)
	}
	for _, gone := range []string{"usr/share/doc", "usr/lib/riscv64-linux-gnu/gconv", "usr/lib/riscv64-linux-gnu/libcrun.a", "var/lib/dpkg"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("/%s still present (%v), want removed", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/lib/riscv64-linux-gnu/libc.so.6")); err != nil {
		t.Errorf("libc.so.6 removed: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("/tmp mode = %v, %v, want sticky", fi.Mode(), err)
	}
}

func TestManifestMarshal(t *testing.T) {
	var m Manifest
	m.Architecture = "riscv64"
	m.Agent.IsInit = "yes"
	m.BaseDistro.Name = "debian"
	data, err := m.Marshal(time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"---\n", "rootfs-creation-time: \"2023-11-14T22:13:20Z\"", "agent-is-init-daemon: \"yes\"", "architecture: riscv64", "base-distro:"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("manifest lacks %q:\n%s", want, data)
		}
	}
}

func TestModulesLoadList(t *testing.T) {
	got := modulesLoadList([]byte("# comment\nvirtio_blk\n\n; other comment\next4\n"))
	if !slices.Equal(got, []string{"virtio_blk", "ext4"}) {
		t.Errorf("modulesLoadList() = %q", got)
	}
}
