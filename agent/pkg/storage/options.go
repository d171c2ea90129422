package storage

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlags maps mount(8) option names to mount(2) flags; a name with a
// clear value turns the flag off.
var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"async":       {true, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"remount":     {false, unix.MS_REMOUNT},
	"mand":        {false, unix.MS_MANDLOCK},
	"nomand":      {true, unix.MS_MANDLOCK},
	"atime":       {true, unix.MS_NOATIME},
	"noatime":     {false, unix.MS_NOATIME},
	"diratime":    {true, unix.MS_NODIRATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
	"relatime":    {false, unix.MS_RELATIME},
	"norelatime":  {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"shared":      {false, unix.MS_SHARED},
	"rshared":     {false, unix.MS_SHARED | unix.MS_REC},
	"private":     {false, unix.MS_PRIVATE},
	"rprivate":    {false, unix.MS_PRIVATE | unix.MS_REC},
	"slave":       {false, unix.MS_SLAVE},
	"rslave":      {false, unix.MS_SLAVE | unix.MS_REC},
	"defaults":    {false, 0},
}

// ParseOptions splits mount(8) options into mount(2) flags and the
// comma-separated data that the file system parses itself.
func ParseOptions(options []string) (flags uintptr, data string) {
	var rest []string
	for _, o := range options {
		f, ok := mountFlags[o]
		if !ok {
			rest = append(rest, o)
			continue
		}
		if f.clear {
			flags &^= f.flag
		} else {
			flags |= f.flag
		}
	}
	return flags, strings.Join(rest, ",")
}
