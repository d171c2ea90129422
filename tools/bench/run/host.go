package run

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Host describes the machine and software a session ran on, because every
// figure depends on them.
type Host struct {
	Arch        string `json:"arch"`
	CPUs        int    `json:"cpus"`
	CPUModel    string `json:"cpu_model"`
	Kernel      string `json:"kernel"`
	LoadStart   string `json:"loadavg_start"`
	LoadEnd     string `json:"loadavg_end,omitempty"`
	QEMU        string `json:"qemu"`
	Containerd  string `json:"containerd,omitempty"`
	Accelerator string `json:"accelerator"`
	Channel     string `json:"agent_channel"`
	SharedFS    string `json:"shared_fs"`
}

func describeHost(ctx context.Context, o Options, a assets) Host {
	h := Host{
		Arch:        runtime.GOARCH,
		CPUs:        runtime.NumCPU(),
		CPUModel:    cpuModel(),
		LoadStart:   loadAverage(),
		QEMU:        firstLine(ctx, a.qemu, "-version"),
		Accelerator: string(o.Accelerator),
		Channel:     string(o.AgentChannel),
		SharedFS:    string(o.SharedFS),
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		h.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if a.containerd != "" {
		h.Containerd = firstLine(ctx, a.containerd, "--version")
	}
	return h
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or on riscv64,
// where the kernel prints no model name, the "isa" and "uarch" lines.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()

	var isa, uarch string
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case key == "model name":
			return value
		case key == "isa" && isa == "":
			isa = value
		case key == "uarch" && uarch == "":
			uarch = value
		}
	}
	if isa != "" || uarch != "" {
		return strings.TrimSpace(uarch + " " + isa)
	}
	return "unknown"
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return strings.TrimSpace(string(data))
	}
	return strings.Join(f[:3], " ")
}

func firstLine(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
