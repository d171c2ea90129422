// Package preinit is the /init of the boot initrd that osbuilder writes
// next to a guest image. Distribution kernels build virtio_blk and ext4 as
// modules, so the kernel alone cannot mount root=/dev/vda: preinit loads
// those modules, mounts the root and hands PID 1 to the image's init.
package preinit

import (
	"bufio"
	"io"
	"strings"
)

// ModuleList is the boot initrd file that lists module paths in load order.
const ModuleList = "/etc/kata-preinit/modules"

// Params are the kernel command-line parameters preinit honours.
type Params struct {
	Root      string
	FSType    string
	Flags     string
	ReadOnly  bool
	Init      string
	HasRootFS bool
}

// ParseCmdline reads /proc/cmdline's content. Without root= preinit has no
// root to switch to and runs Init from the initramfs itself.
func ParseCmdline(cmdline string) Params {
	p := Params{FSType: "ext4", Init: "/sbin/init"}
	for _, field := range strings.Fields(cmdline) {
		key, value, _ := strings.Cut(field, "=")
		switch key {
		case "root":
			p.Root, p.HasRootFS = value, value != ""
		case "rootfstype":
			p.FSType = value
		case "rootflags":
			p.Flags = value
		case "ro":
			p.ReadOnly = true
		case "rw":
			p.ReadOnly = false
		case "init":
			p.Init = value
		}
	}
	return p
}

// ParseModuleList returns the module paths of a ModuleList file, skipping
// blank lines and comments.
func ParseModuleList(r io.Reader) ([]string, error) {
	var paths []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			paths = append(paths, line)
		}
	}
	return paths, sc.Err()
}
