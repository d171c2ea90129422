//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: code %v (%v), want %v", what, got, err, want)
	}
}

func TestContainerLifecycle(t *testing.T) {
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	health, err := a.client.Health.Check(ctx, &grpc.CheckRequest{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if health.Status != grpc.HealthCheckResponse_SERVING {
		t.Errorf("Check status = %v, want SERVING", health.Status)
	}

	// A guest prestart hook that records each container it ran for.
	hookDir := filepath.Join(a.dir, "hooks")
	hookLog := filepath.Join(a.dir, "hook.log")
	if err := os.MkdirAll(filepath.Join(hookDir, "prestart"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\ncat >> " + hookLog + "\necho >> " + hookLog + "\n"
	if err := os.WriteFile(filepath.Join(hookDir, "prestart", "record"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	sandbox := &grpc.CreateSandboxRequest{SandboxId: "sb1", Dns: []string{"nameserver 10.0.0.1"}, GuestHookPath: hookDir}
	if _, err := a.agent.CreateSandbox(ctx, sandbox); err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	resolv, _ := os.ReadFile(filepath.Join(a.dir, "resolv.conf"))
	if string(resolv) != "nameserver 10.0.0.1\n" {
		t.Errorf("resolv.conf = %q, want %q", resolv, "nameserver 10.0.0.1\n")
	}

	t.Run("output, stdin and exit code", func(t *testing.T) {
		spec := containerSpec(a.rootfs, false, "sh", "-c", "echo hello; echo oops >&2; read line; echo got:$line; exit 42")
		if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c1", OCI: spec}); err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		if _, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c1"}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		// runc passes the container state, with its id, to the hook's stdin.
		if state, err := os.ReadFile(hookLog); err != nil || !strings.Contains(string(state), `"id":"c1"`) {
			t.Errorf("guest prestart hook log = %q, %v, want the state of c1", state, err)
		}
		n, err := a.agent.WriteStdin(ctx, &grpc.WriteStreamRequest{ContainerId: "c1", Data: []byte("ping\n")})
		if err != nil || n.Len != 5 {
			t.Fatalf("WriteStdin = %v, %v, want 5 bytes", n, err)
		}
		if _, err := a.agent.CloseStdin(ctx, &grpc.CloseStdinRequest{ContainerId: "c1"}); err != nil {
			t.Errorf("CloseStdin: %v", err)
		}

		stdout, err := readAll(ctx, a.agent.ReadStdout, "c1", "")
		if err != nil {
			t.Errorf("ReadStdout: %v", err)
		}
		if stdout != "hello\ngot:ping\n" {
			t.Errorf("stdout = %q, want %q", stdout, "hello\ngot:ping\n")
		}
		stderr, err := readAll(ctx, a.agent.ReadStderr, "c1", "")
		if err != nil {
			t.Errorf("ReadStderr: %v", err)
		}
		if stderr != "oops\n" {
			t.Errorf("stderr = %q, want %q", stderr, "oops\n")
		}

		wait, err := a.agent.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c1"})
		if err != nil {
			t.Fatalf("WaitProcess: %v", err)
		}
		if wait.Status != 42 {
			t.Errorf("exit status = %d, want 42", wait.Status)
		}

		_, err = a.agent.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "c1", ExecId: "late", Process: spec.Process})
		wantCode(t, "ExecProcess in a stopped container", err, codes.FailedPrecondition)
		_, err = a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c1"})
		wantCode(t, "StartContainer of a stopped container", err, codes.FailedPrecondition)

		if _, err := a.agent.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: "c1"}); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
		if _, err := os.Stat(filepath.Join(a.dir, "state/bundles/c1")); !os.IsNotExist(err) {
			t.Errorf("bundle of c1 still exists after RemoveContainer: %v", err)
		}
		if _, err := os.Stat(filepath.Join(a.rootfs, "bin/busybox")); err != nil {
			t.Errorf("the shared rootfs lost its files on RemoveContainer: %v", err)
		}
	})

	t.Run("exec, tty and signal", func(t *testing.T) {
		spec := containerSpec(a.rootfs, false, "sleep", "1000")
		if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c2", OCI: spec}); err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		if _, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c2"}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		_, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c2"})
		wantCode(t, "second StartContainer", err, codes.FailedPrecondition)

		exec := containerSpec(a.rootfs, false, "sh", "-c", "echo exec-out; exit 3").Process
		if _, err := a.agent.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "c2", ExecId: "e1", Process: exec}); err != nil {
			t.Fatalf("ExecProcess: %v", err)
		}
		_, err = a.agent.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "c2", ExecId: "e1", Process: exec})
		wantCode(t, "ExecProcess with a used exec id", err, codes.AlreadyExists)
		out, err := readAll(ctx, a.agent.ReadStdout, "c2", "e1")
		if err != nil || out != "exec-out\n" {
			t.Errorf("exec stdout = %q, %v, want %q", out, err, "exec-out\n")
		}
		wait, err := a.agent.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c2", ExecId: "e1"})
		if err != nil || wait.Status != 3 {
			t.Errorf("exec WaitProcess = %v, %v, want status 3", wait, err)
		}

		tty := containerSpec(a.rootfs, true, "sh", "-c", "stty size; echo tty-ok").Process
		tty.ConsoleSize = &grpc.Box{Height: 30, Width: 100}
		if _, err := a.agent.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "c2", ExecId: "tty", Process: tty}); err != nil {
			t.Fatalf("ExecProcess with a terminal: %v", err)
		}
		if _, err := a.agent.TtyWinResize(ctx, &grpc.TtyWinResizeRequest{ContainerId: "c2", ExecId: "tty", Row: 30, Column: 100}); err != nil {
			t.Errorf("TtyWinResize: %v", err)
		}
		out, err = readAll(ctx, a.agent.ReadStdout, "c2", "tty")
		if err != nil {
			t.Errorf("tty ReadStdout: %v", err)
		}
		if !strings.Contains(out, "30 100\r\n") || !strings.Contains(out, "tty-ok\r\n") {
			t.Errorf("tty output = %q, want the size line \"30 100\" and \"tty-ok\" with CRLF endings", out)
		}
		wait, err = a.agent.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c2", ExecId: "tty"})
		if err != nil || wait.Status != 0 {
			t.Errorf("tty WaitProcess = %v, %v, want status 0", wait, err)
		}
		_, err = a.agent.TtyWinResize(ctx, &grpc.TtyWinResizeRequest{ContainerId: "c2", ExecId: "e1", Row: 1, Column: 1})
		wantCode(t, "TtyWinResize of a process without a terminal", err, codes.FailedPrecondition)

		if _, err := a.agent.SignalProcess(ctx, &grpc.SignalProcessRequest{ContainerId: "c2", Signal: uint32(unix.SIGKILL)}); err != nil {
			t.Fatalf("SignalProcess: %v", err)
		}
		wait, err = a.agent.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c2"})
		if err != nil || wait.Status != 128+9 {
			t.Errorf("WaitProcess after SIGKILL = %v, %v, want status 137", wait, err)
		}
		_, err = a.agent.ExecProcess(ctx, &grpc.ExecProcessRequest{ContainerId: "c2", ExecId: "e3", Process: exec})
		wantCode(t, "ExecProcess in a killed container", err, codes.FailedPrecondition)

		if _, err := a.agent.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: "c2", Timeout: 10}); err != nil {
			t.Errorf("RemoveContainer: %v", err)
		}
	})

	t.Run("remove a running container", func(t *testing.T) {
		spec := containerSpec(a.rootfs, false, "sleep", "1000")
		if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c3", OCI: spec}); err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		if _, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "c3"}); err != nil {
			t.Fatalf("StartContainer: %v", err)
		}
		if _, err := a.agent.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: "c3", Timeout: 10}); err != nil {
			t.Fatalf("RemoveContainer of a running container: %v", err)
		}
		_, err := a.agent.WaitProcess(ctx, &grpc.WaitProcessRequest{ContainerId: "c3"})
		wantCode(t, "WaitProcess after RemoveContainer", err, codes.NotFound)
	})

	t.Run("remove a created container", func(t *testing.T) {
		spec := containerSpec(a.rootfs, false, "echo", "never")
		if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c6", OCI: spec}); err != nil {
			t.Fatalf("CreateContainer: %v", err)
		}
		_, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c6", OCI: spec})
		wantCode(t, "second CreateContainer with the same id", err, codes.AlreadyExists)
		if _, err := a.agent.RemoveContainer(ctx, &grpc.RemoveContainerRequest{ContainerId: "c6", Timeout: 10}); err != nil {
			t.Fatalf("RemoveContainer of a created container: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "nope"})
		wantCode(t, "StartContainer of an unknown id", err, codes.NotFound)
		if err != nil && !strings.Contains(err.Error(), "nope") {
			t.Errorf("error %q does not name the container id", err)
		}
		_, err = a.agent.ReadStdout(ctx, &grpc.ReadStreamRequest{ContainerId: "nope", ExecId: "x"})
		wantCode(t, "ReadStdout of an unknown container", err, codes.NotFound)

		missing := containerSpec(filepath.Join(a.dir, "no-such-rootfs"), false, "true")
		_, err = a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c4", OCI: missing})
		wantCode(t, "CreateContainer with a missing rootfs", err, codes.NotFound)
		_, err = a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "../escape", OCI: containerSpec(a.rootfs, false, "true")})
		wantCode(t, "CreateContainer with a path in the id", err, codes.InvalidArgument)
		_, err = a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "c5"})
		wantCode(t, "CreateContainer without a spec", err, codes.InvalidArgument)
		_, err = a.agent.CreateSandbox(ctx, &grpc.CreateSandboxRequest{SandboxId: "sb1"})
		wantCode(t, "second CreateSandbox", err, codes.AlreadyExists)

		// A method upstream has and this agent lacks.
		tc := ttrpc.NewClient(dialRaw(t, a))
		defer func() { _ = tc.Close() }()
		err = tc.Call(ctx, "grpc.AgentService", "CopyFile", &emptypb.Empty{}, &emptypb.Empty{})
		wantCode(t, "CopyFile", err, codes.Unimplemented)
		if err != nil && !strings.Contains(err.Error(), "CopyFile") {
			t.Errorf("Unimplemented error %q does not name the method", err)
		}
	})

	metrics, err := a.agent.GetMetrics(ctx, &grpc.GetMetricsRequest{})
	if err != nil {
		t.Errorf("GetMetrics: %v", err)
	} else if !strings.Contains(metrics.Metrics, "kata_agent_requests_total") {
		t.Errorf("GetMetrics lacks kata_agent_requests_total")
	}

	if kids := children(a.cmd.Process.Pid); len(kids) != 0 {
		t.Errorf("agent has child processes %v after every container was removed", kids)
	}

	if _, err := a.agent.DestroySandbox(ctx, &grpc.DestroySandboxRequest{}); err != nil {
		t.Errorf("DestroySandbox: %v", err)
	}
	select {
	case <-a.exited:
		if a.exitErr != nil {
			t.Errorf("agent exited with %v after DestroySandbox, want success", a.exitErr)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("agent still runs 10 s after DestroySandbox")
	}
}

// TestSandboxPidNamespace checks that containers created with sandbox_pidns
// join the namespace the agent holds for the sandbox: the container's shell
// is not PID 1 there, and two containers see each other's processes.
func TestSandboxPidNamespace(t *testing.T) {
	a := startAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := a.agent.CreateSandbox(ctx, &grpc.CreateSandboxRequest{SandboxId: "shared", SandboxPidns: true}); err != nil {
		t.Fatalf("CreateSandbox: %v", err)
	}
	sleeper := containerSpec(a.rootfs, false, "sleep", "1000")
	if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "sleeper", OCI: sleeper, SandboxPidns: true}); err != nil {
		t.Fatalf("CreateContainer sleeper: %v", err)
	}
	if _, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "sleeper"}); err != nil {
		t.Fatalf("StartContainer sleeper: %v", err)
	}

	// /proc of the second container lists the sleeper's process.
	looker := containerSpec(a.rootfs, false, "sh", "-c", "echo pid=$$; cat /proc/[0-9]*/cmdline | tr '\\0' ' '")
	if _, err := a.agent.CreateContainer(ctx, &grpc.CreateContainerRequest{ContainerId: "looker", OCI: looker, SandboxPidns: true}); err != nil {
		t.Fatalf("CreateContainer looker: %v", err)
	}
	if _, err := a.agent.StartContainer(ctx, &grpc.StartContainerRequest{ContainerId: "looker"}); err != nil {
		t.Fatalf("StartContainer looker: %v", err)
	}
	out, err := readAll(ctx, a.agent.ReadStdout, "looker", "")
	if err != nil {
		t.Fatalf("ReadStdout: %v", err)
	}
	if strings.Contains(out, "pid=1\n") {
		t.Errorf("the shell is PID 1 (output %q): the container did not join the sandbox's PID namespace", out)
	}
	if !strings.Contains(out, "sleep 1000") {
		t.Errorf("output %q lacks the other container's \"sleep 1000\"", out)
	}

	if _, err := a.agent.DestroySandbox(ctx, &grpc.DestroySandboxRequest{}); err != nil {
		t.Errorf("DestroySandbox: %v", err)
	}
	select {
	case <-a.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("agent still runs 20 s after DestroySandbox")
	}
}
