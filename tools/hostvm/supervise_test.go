package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func testSupervisor(t *testing.T, runDir string, stdout, stderr io.Writer) supervisor {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return supervisor{runDir: runDir, stdout: stdout, stderr: stderr, log: log.WithField("source", "hostvm"),
		poll: 20 * time.Millisecond, powerOffGrace: 500 * time.Millisecond}
}

// fakeVM starts sh -c script in runDir as a stand-in for QEMU.
func fakeVM(t *testing.T, runDir, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = runDir
	if err := startInGroup(cmd); err != nil {
		t.Fatalf("starting the fake VM: %v", err)
	}
	return cmd
}

// processGone reports whether no process with pid exists any more.
func processGone(pid int) bool {
	return errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}

func TestSuperviseExitStatus(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	cmd := fakeVM(t, dir, `echo started >started; echo hello >>stdout; echo oops >>stderr; echo 3 >exit-status`)

	res, err := testSupervisor(t, dir, &out, &errOut).supervise(context.Background(), cmd)
	if err != nil {
		t.Fatalf("supervise: %v", err)
	}
	if res.exitCode != 3 {
		t.Errorf("exit code = %d, want 3", res.exitCode)
	}
	if out.String() != "hello\n" {
		t.Errorf("stdout = %q, want %q", out.String(), "hello\n")
	}
	if errOut.String() != "oops\n" {
		t.Errorf("stderr = %q, want %q", errOut.String(), "oops\n")
	}
}

func TestSuperviseTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	// The child of sh stands for a process that QEMU started; it must die too.
	cmd := fakeVM(t, dir, `sleep 600 & echo $! >child.pid; echo partial >>stdout; wait`)

	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	_, err := testSupervisor(t, dir, &out, io.Discard).supervise(ctx, cmd)
	if !errors.Is(err, errTimeout) {
		t.Fatalf("supervise error = %v, want errTimeout", err)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("supervise returned after %s, long after the timeout", elapsed)
	}
	if !processGone(cmd.Process.Pid) {
		t.Errorf("the fake VM %d is still running after the timeout", cmd.Process.Pid)
	}
	data, err := os.ReadFile(filepath.Join(dir, "child.pid"))
	if err != nil {
		t.Fatalf("reading child.pid: %v", err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	// The killed child may linger for a moment as a zombie of init.
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(child) && time.Now().Before(deadline) {
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
		t.Errorf("the fake VM's child %d survived the timeout: %s", child, st)
	}
	if out.String() != "partial\n" {
		t.Errorf("output before the timeout = %q, want %q", out.String(), "partial\n")
	}
}

func TestSuperviseVMStopsWithoutStatus(t *testing.T) {
	dir := t.TempDir()
	cmd := fakeVM(t, dir, `exit 1`)
	_, err := testSupervisor(t, dir, io.Discard, io.Discard).supervise(context.Background(), cmd)
	if !errors.Is(err, errVMStopped) {
		t.Errorf("supervise error = %v, want errVMStopped", err)
	}
}

func TestSuperviseKillsVMThatDoesNotPowerOff(t *testing.T) {
	dir := t.TempDir()
	cmd := fakeVM(t, dir, `echo 0 >exit-status; exec sleep 600`)
	res, err := testSupervisor(t, dir, io.Discard, io.Discard).supervise(context.Background(), cmd)
	if err != nil {
		t.Fatalf("supervise: %v", err)
	}
	if res.exitCode != 0 {
		t.Errorf("exit code = %d, want 0", res.exitCode)
	}
	if !processGone(cmd.Process.Pid) {
		t.Errorf("the fake VM %d is still running", cmd.Process.Pid)
	}
}

func TestSuperviseCancel(t *testing.T) {
	dir := t.TempDir()
	cmd := fakeVM(t, dir, `exec sleep 600`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := testSupervisor(t, dir, io.Discard, io.Discard).supervise(ctx, cmd)
	if err == nil || errors.Is(err, errTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("supervise error = %v, want context.Canceled", err)
	}
	if !processGone(cmd.Process.Pid) {
		t.Errorf("the fake VM %d is still running after cancellation", cmd.Process.Pid)
	}
}

func TestReadStarted(t *testing.T) {
	dir := t.TempDir()
	if _, ok := readStarted(dir); ok {
		t.Error("readStarted without the file reported a start")
	}
	if err := os.WriteFile(filepath.Join(dir, runStartedFile), []byte("17.25 30.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up, ok := readStarted(dir)
	if !ok || up != 17250*time.Millisecond {
		t.Errorf("readStarted = %s, %v; want 17.25s, true", up, ok)
	}
}

func TestPruneRuns(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ages := map[string]time.Duration{
		"run-old":    8 * 24 * time.Hour,
		"run-recent": time.Hour,
		"other-old":  8 * 24 * time.Hour,
	}
	for name, age := range ages {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	log := logrus.New()
	log.SetOutput(io.Discard)

	pruneRuns(log.WithField("source", "hostvm"), dir, 7*24*time.Hour, now)

	for name, wantKept := range map[string]bool{"run-old": false, "run-recent": true, "other-old": true} {
		_, err := os.Stat(filepath.Join(dir, name))
		if kept := err == nil; kept != wantKept {
			t.Errorf("%s kept = %v, want %v", name, kept, wantKept)
		}
	}
}
