package fctest

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"regexp"
	"syscall"
)

// instanceID matches the ids Firecracker and the jailer accept: letters,
// digits and hyphens, at most 64 (Firecracker's docs/jailer.md).
var instanceID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// EchoPort is the guest vsock port on which a stand-in process echoes what
// it receives, so that a test can check a hybrid vsock connection end to
// end. It is the Kata agent's port.
const EchoPort = 1024

// Environment variables that change how a stand-in process behaves, for
// tests of the runtime's stop and error paths.
const (
	// EnvIgnoreSIGTERM makes the process ignore SIGTERM, so only SIGKILL
	// stops it, like a VMM whose guest does not shut down.
	EnvIgnoreSIGTERM = "FCTEST_IGNORE_SIGTERM"
	// EnvExitAtStart makes the process exit with status 1 before it
	// serves the API, like a VMM that fails to start.
	EnvExitAtStart = "FCTEST_EXIT_AT_START"
	// EnvRoot is a jail root, see Options.Root.
	EnvRoot = "FCTEST_ROOT"
	// EnvRecord is a file that receives each request as a JSON line, see
	// Options.Record.
	EnvRecord = "FCTEST_RECORD"
)

// Main runs a stand-in firecracker process: it accepts the firecracker
// command line (--api-sock, --id, --version and the flags it ignores),
// serves the stand-in API on the --api-sock path until SIGTERM or SIGINT,
// and returns the exit status. Test binaries call it from TestMain when they
// are re-executed as the VMM. The guest emulated behind the vsock device
// echoes on EchoPort.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("firecracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Unlike Firecracker, whose default is /run/firecracker.socket, the
	// stand-in has no default, so that a test never binds a host path.
	apiSock := fs.String("api-sock", "", "path of the API socket (required)")
	id := fs.String("id", "anonymous-instance", "instance id")
	version := fs.Bool("version", false, "print the version and exit")
	fs.String("config-file", "", "ignored by the stand-in")
	fs.String("log-path", "", "ignored by the stand-in")
	fs.String("level", "", "ignored by the stand-in")
	fs.Bool("no-seccomp", false, "ignored by the stand-in")
	fs.String("start-time-us", "", "ignored by the stand-in")
	fs.String("start-time-cpu-us", "", "ignored by the stand-in")
	fs.String("parent-cpu-time-us", "", "ignored by the stand-in")
	if err := fs.Parse(args); err != nil {
		return 153 // Firecracker's exit code for argument errors
	}

	if *version {
		_, _ = fmt.Fprintf(stdout, "Firecracker v1.12.0-stand-in\n\n")
		return 0
	}
	if !instanceID.MatchString(*id) {
		_, _ = fmt.Fprintf(stderr, "stand-in firecracker: invalid --id %q: want 1 to 64 letters, digits and hyphens\n", *id)
		return 153
	}
	if *apiSock == "" {
		_, _ = fmt.Fprintf(stderr, "stand-in firecracker: --api-sock is required\n")
		return 153
	}
	if os.Getenv(EnvExitAtStart) != "" {
		_, _ = fmt.Fprintf(stderr, "stand-in firecracker: exiting at start as %s asks\n", EnvExitAtStart)
		return 1
	}

	sigs := make(chan os.Signal, 1)
	if os.Getenv(EnvIgnoreSIGTERM) != "" {
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(sigs, syscall.SIGINT)
	} else {
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	}

	root := os.Getenv(EnvRoot)
	sockPath := *apiSock
	if root != "" {
		sockPath = root + "/" + *apiSock
	}
	var record io.Writer
	if p := os.Getenv(EnvRecord); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			_, _ = fmt.Fprintf(stderr, "stand-in firecracker: %v\n", err)
			return 1
		}
		defer func() { _ = f.Close() }()
		record = f
	}

	s, err := Listen(sockPath, Options{
		ID:     *id,
		Root:   root,
		Record: record,
		GuestPorts: map[uint32]func(net.Conn){
			EchoPort: func(c net.Conn) {
				defer func() { _ = c.Close() }()
				_, _ = io.Copy(c, c)
			},
		},
	})
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "stand-in firecracker: %v\n", err)
		return 1
	}

	<-sigs
	_ = s.Close()
	return 0
}
