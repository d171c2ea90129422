package fctest

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
)

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
	apiSock := fs.String("api-sock", "/run/firecracker.socket", "path of the API socket")
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
		fmt.Fprintf(stdout, "Firecracker v1.12.0-stand-in\n\n")
		return 0
	}
	if os.Getenv(EnvExitAtStart) != "" {
		fmt.Fprintf(stderr, "stand-in firecracker: exiting at start as %s asks\n", EnvExitAtStart)
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
			fmt.Fprintf(stderr, "stand-in firecracker: %v\n", err)
			return 1
		}
		defer f.Close()
		record = f
	}

	s, err := Listen(sockPath, Options{
		ID:     *id,
		Root:   root,
		Record: record,
		GuestPorts: map[uint32]func(net.Conn){
			EchoPort: func(c net.Conn) {
				defer c.Close()
				_, _ = io.Copy(c, c)
			},
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "stand-in firecracker: %v\n", err)
		return 1
	}

	<-sigs
	s.Close()
	return 0
}
