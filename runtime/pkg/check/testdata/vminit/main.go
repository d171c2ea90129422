// Command vminit is the init of the VM that TestCheckInRISCV64VM boots. It
// mounts /proc, /sys and /dev, runs `kata-runtime check --json`, loads the
// kernel modules listed in /etc/modules-load.d/kata.conf with their
// dependencies from modules.dep, runs the check again and powers off. Each
// report is printed between "=== BEGIN name" and "=== END name exit=N".
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			fmt.Println("vminit:", err)
		}
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil {
			fmt.Printf("vminit: mounting %s: %v\n", m.dst, err)
		}
	}

	runCheck("before-modules")
	loadModules()
	runCheck("after-modules")

	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		fmt.Println("vminit: power off:", err)
	}
}

func runCheck(name string) {
	var out bytes.Buffer
	cmd := exec.Command("/kata-runtime", "check", "--json")
	cmd.Stdout, cmd.Stderr = &out, os.Stdout
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		fmt.Println("vminit: running kata-runtime:", err)
	}
	fmt.Printf("=== BEGIN %s\n%s=== END %s exit=%d\n", name, out.String(), name, code)
}

// loadModules loads each module of kata.conf after its dependencies.
func loadModules() {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		fmt.Println("vminit: uname:", err)
		return
	}
	dir := "/usr/lib/modules/" + unix.ByteSliceToString(u.Release[:])
	deps := map[string][]string{}
	byName := map[string]string{}
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		fmt.Println("vminit:", err)
		return
	}
	s := bufio.NewScanner(f)
	for s.Scan() {
		mod, rest, _ := strings.Cut(s.Text(), ":")
		deps[mod] = strings.Fields(rest)
		byName[strings.TrimSuffix(filepath.Base(mod), ".ko")] = mod
	}
	f.Close()

	conf, err := os.ReadFile("/etc/modules-load.d/kata.conf")
	if err != nil {
		fmt.Println("vminit:", err)
		return
	}
	done := map[string]bool{}
	var load func(mod string)
	load = func(mod string) {
		if done[mod] {
			return
		}
		done[mod] = true
		for _, d := range deps[mod] {
			load(d)
		}
		m, err := os.Open(filepath.Join(dir, mod))
		if err != nil {
			fmt.Println("vminit:", err)
			return
		}
		defer m.Close()
		if err := unix.FinitModule(int(m.Fd()), "", 0); err != nil && err != unix.EEXIST {
			fmt.Printf("vminit: loading %s: %v\n", mod, err)
		}
	}
	for _, line := range strings.Split(string(conf), "\n") {
		name := strings.TrimSpace(line)
		if name == "" || strings.HasPrefix(name, "#") {
			continue
		}
		if mod, ok := byName[strings.ReplaceAll(name, "-", "_")]; ok {
			load(mod)
		}
	}
}
