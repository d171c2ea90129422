package fctest

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// JailerMain runs a stand-in jailer: it accepts the jailer's command line
// (--id, --exec-file, --uid, --gid, --chroot-base-dir, then "--" and the
// Firecracker arguments), checks that the chroot directory
// <chroot base>/<exec file name>/<id>/root exists, and execs the exec file
// there with EnvRoot set to it. It does not chroot, switch ids or create
// device nodes, which need root: the stand-in firecracker resolves paths
// under EnvRoot instead, as they would resolve inside the chroot. It returns
// only on error, with the exit status.
func JailerMain(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("jailer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "microVM id")
	execFile := fs.String("exec-file", "", "Firecracker binary")
	uid := fs.Int("uid", -1, "user id to run Firecracker as")
	gid := fs.Int("gid", -1, "group id to run Firecracker as")
	base := fs.String("chroot-base-dir", "/srv/jailer", "base of the chroot directories")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if !instanceID.MatchString(*id) {
		_, _ = fmt.Fprintf(stderr, "stand-in jailer: invalid --id %q: want 1 to 64 letters, digits and hyphens\n", *id)
		return 1
	}
	if *execFile == "" || *uid < 0 || *gid < 0 {
		_, _ = fmt.Fprintf(stderr, "stand-in jailer: --exec-file, --uid and --gid are required\n")
		return 1
	}

	root := filepath.Join(*base, filepath.Base(*execFile), *id, "root")
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		_, _ = fmt.Fprintf(stderr, "stand-in jailer: chroot directory %s: %v\n", root, err)
		return 1
	}
	if err := os.Chdir(root); err != nil {
		_, _ = fmt.Fprintf(stderr, "stand-in jailer: %v\n", err)
		return 1
	}
	env := append(os.Environ(), EnvRoot+"="+root)
	// The real jailer also passes the id and its start times.
	argv := append([]string{*execFile, "--id", *id, "--start-time-us", "0", "--start-time-cpu-us", "0"}, fs.Args()...)
	err := syscall.Exec(*execFile, argv, env)
	_, _ = fmt.Fprintf(stderr, "stand-in jailer: exec %s: %v\n", *execFile, err)
	return 1
}
