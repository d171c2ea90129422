package run

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseStatusMemory(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    memory
		wantErr string
	}{
		{"both", "Name:\tshim\nVmHWM:\t   15000 kB\nVmRSS:\t   14712 kB\n", memory{RSSKiB: 14712, HWMKiB: 15000}, ""},
		{"kernel thread", "Name:\tkthreadd\nState:\tS\n", memory{}, "no VmRSS"},
		{"bad unit", "VmHWM:\t1 kB\nVmRSS:\t1 MB\n", memory{}, "want \"N kB\""},
		{"bad number", "VmHWM:\t1 kB\nVmRSS:\tx kB\n", memory{}, "invalid VmRSS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatusMemory(tt.status, "status")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("parseStatusMemory = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatParent(t *testing.T) {
	comm, ppid, err := parseStatParent("4242 (qemu (x) sys) S 17 4242 4242 0 -1")
	if err != nil {
		t.Fatal(err)
	}
	if comm != "qemu (x) sys" || ppid != 17 {
		t.Errorf("parseStatParent = %q, %d; want \"qemu (x) sys\", 17", comm, ppid)
	}
	if _, _, err := parseStatParent("garbage"); err == nil {
		t.Error("parseStatParent(\"garbage\") returned no error")
	}
}

// fakeProc writes a /proc-like tree with one entry per process.
type fakeProcess struct {
	pid     int
	cmdline []string
	stat    string
	status  string
}

func fakeProc(t *testing.T, procs ...fakeProcess) string {
	t.Helper()
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(p.pid))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{
			"cmdline": strings.Join(p.cmdline, "\x00") + "\x00",
			"stat":    p.stat,
			"status":  p.status,
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

func TestFindShimAndChild(t *testing.T) {
	shimArgs := func(address, id string) []string {
		return []string{"/build/amd64/containerd-shim-kata-v2", "-namespace", "kata-bench", "-address", address, "-publish-binary", "/x", "-id", id}
	}
	root := fakeProc(t,
		fakeProcess{pid: 10, cmdline: shimArgs("/other/containerd.sock", "s1"), stat: "10 (containerd-shim) S 1"},
		fakeProcess{pid: 11, cmdline: shimArgs("/mine/containerd.sock", "s2"), stat: "11 (containerd-shim) S 1"},
		fakeProcess{pid: 12, cmdline: shimArgs("/mine/containerd.sock", "s1"), stat: "12 (containerd-shim) S 1"},
		fakeProcess{pid: 20, cmdline: []string{"/usr/bin/qemu-system-riscv64", "-name", "sandbox-s1"}, stat: "20 (qemu-system-ris) S 10"},
		fakeProcess{pid: 21, cmdline: []string{"/usr/bin/qemu-system-riscv64", "-name", "sandbox-s1"}, stat: "21 (qemu-system-ris) S 12"},
	)

	pid, err := findShim(root, "/mine/containerd.sock", "s1")
	if err != nil || pid != 12 {
		t.Errorf("findShim(mine, s1) = %d, %v; want 12", pid, err)
	}
	if _, err := findShim(root, "/mine/containerd.sock", "s3"); err == nil {
		t.Error("findShim(mine, s3) found a shim that does not exist")
	}
	if got := shimsOf(root, "/mine/containerd.sock", ""); !reflect.DeepEqual(got, []int{11, 12}) {
		t.Errorf("shimsOf(mine) = %v, want [11 12]", got)
	}

	child, err := findChild(root, 12, "qemu-system")
	if err != nil || child != 21 {
		t.Errorf("findChild(12) = %d, %v; want 21", child, err)
	}
	if _, err := findChild(root, 11, "qemu-system"); err == nil {
		t.Error("findChild(11) found a child that does not exist")
	}
}

func TestWaitShimsGoneReturnsSurvivors(t *testing.T) {
	root := fakeProc(t, fakeProcess{pid: 5, cmdline: []string{"containerd-shim-kata-v2", "-address", "/a.sock", "-id", "x"}})
	if got := waitShimsGone(root, "/a.sock", 10*time.Millisecond); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("waitShimsGone = %v, want [5]", got)
	}
	if got := waitShimsGone(root, "/b.sock", time.Second); len(got) != 0 {
		t.Errorf("waitShimsGone for another containerd = %v, want none", got)
	}
}

func TestReadMemory(t *testing.T) {
	root := fakeProc(t, fakeProcess{pid: 7, status: "VmHWM:\t 2048 kB\nVmRSS:\t 1024 kB\n"})
	got, err := readMemory(root, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := (memory{RSSKiB: 1024, HWMKiB: 2048}); got != want {
		t.Errorf("readMemory = %+v, want %+v", got, want)
	}
	if _, err := readMemory(root, 8); err == nil {
		t.Error("readMemory of a missing process returned no error")
	}
}
