package shimtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/containerd/runtime/v2/shim"
)

// Host directories of a sandbox, as virtcontainers.DefaultPaths lays them
// out: each holds one <sandbox id> entry while the sandbox exists.
var sandboxDirs = []string{"/run/vc/sbs", "/run/vc/vm", "/run/kata-containers/shared/sandboxes"}

// Leftovers returns what sandbox id left on the host: its shim, QEMU and
// virtiofsd processes, the shim's socket, the sandbox directories, and mounts
// under the sandbox's shared directory or the task's bundle. Nil means
// nothing is left.
func (c *Ctr) Leftovers(id string) []string {
	var found []string
	// The shim runs as "containerd-shim-kata-v2 -namespace NS ... -id ID",
	// QEMU as "qemu-system-riscv64 -name sandbox-ID ...", and virtiofsd with
	// its socket in /run/vc/vm/ID/.
	patterns := map[string]string{
		"shim":      "containerd-shim-kata-v2 .*-id " + regexp.QuoteMeta(id) + "( |$)",
		"QEMU":      "qemu-system-riscv64 -name sandbox-" + regexp.QuoteMeta(id) + "( |$)",
		"virtiofsd": "virtiofsd .*/run/vc/vm/" + regexp.QuoteMeta(id) + "/",
	}
	for _, process := range []string{"shim", "QEMU", "virtiofsd"} {
		if pids := pgrep(patterns[process]); len(pids) > 0 {
			found = append(found, process+" process "+strings.Join(pids, " "))
		}
	}

	if sock, err := c.shimSocket(id); err == nil {
		if _, err := os.Lstat(sock); err == nil {
			found = append(found, "shim socket "+sock)
		}
	}

	for _, dir := range sandboxDirs {
		if _, err := os.Lstat(filepath.Join(dir, id)); err == nil {
			found = append(found, filepath.Join(dir, id))
		}
	}

	for _, m := range mountsOf(id) {
		found = append(found, "mount "+m)
	}
	return found
}

// WaitForCleanup polls Leftovers until nothing is left or timeout passes,
// and returns what is still there then. The shim and its VM go away shortly
// after `ctr` returns, not before.
func (c *Ctr) WaitForCleanup(id string, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		left := c.Leftovers(id)
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ShimPIDs returns the process ids of the shim that serves sandbox id.
func ShimPIDs(id string) []int {
	var pids []int
	for _, p := range pgrep("containerd-shim-kata-v2 .*-id " + regexp.QuoteMeta(id) + "( |$)") {
		if n, err := strconv.Atoi(p); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

// shimSocket returns the path of the shim's ttrpc socket, which containerd
// derives from its address, the namespace and the sandbox id.
func (c *Ctr) shimSocket(id string) (string, error) {
	ctx := namespaces.WithNamespace(context.Background(), c.Namespace)
	addr, err := shim.SocketAddress(ctx, c.address(), id)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(addr, "unix://"), nil
}

// pgrep returns the ids of the processes whose command line matches the
// extended regular expression pattern.
func pgrep(pattern string) []string {
	out, _ := exec.Command("pgrep", "-f", pattern).Output()
	return strings.Fields(string(bytes.TrimSpace(out)))
}

// mountsOf returns the mount points in the sandbox's shared directory and in
// a task bundle named id (<state>/io.containerd.runtime.v2.task/<ns>/<id>).
func mountsOf(id string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{"unreadable /proc/self/mountinfo: " + err.Error()}
	}
	shared := regexp.MustCompile(`^/run/kata-containers/shared/sandboxes/` + regexp.QuoteMeta(id) + `(/|$)`)
	bundle := regexp.MustCompile(`/io\.containerd\.runtime\.v2\.task/[^/]+/` + regexp.QuoteMeta(id) + `(/|$)`)
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		// The fifth field of a mountinfo line is the mount point.
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		if shared.MatchString(f[4]) || bundle.MatchString(f[4]) {
			found = append(found, f[4])
		}
	}
	return found
}
