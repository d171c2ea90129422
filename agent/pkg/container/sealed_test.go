package container

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

func TestSealRuntime(t *testing.T) {
	// Any executable serves as the runtime: the test checks the copy, not
	// what the program does.
	binary, err := exec.LookPath("true")
	if err != nil {
		t.Skip("needs true(1) in PATH")
	}

	command, err := SealRuntime(binary)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := strconv.Atoi(strings.TrimPrefix(command, "/proc/self/fd/"))
	if err != nil {
		t.Fatalf("SealRuntime returned %q, want /proc/self/fd/N", command)
	}
	defer unix.Close(fd)

	if fd < sealedFDMin {
		t.Errorf("fd = %d, want at least %d", fd, sealedFDMin)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatalf("F_GET_SEALS: %v", err)
	}
	if seals != runtimeSeals {
		t.Errorf("seals = %#x, want %#x", seals, runtimeSeals)
	}
	if _, err := unix.Pwrite(fd, []byte{0}, 0); err == nil {
		t.Error("writing to the sealed copy succeeded")
	}

	want, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(command)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("copy has %d bytes, differs from %s (%d bytes)", len(got), binary, len(want))
	}

	if out, err := exec.Command(command).CombinedOutput(); err != nil {
		t.Errorf("running the sealed copy: %v\n%s", err, out)
	}
}

func TestSealRuntimeMissing(t *testing.T) {
	_, err := SealRuntime("/nonexistent/crun")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/crun") {
		t.Errorf("error = %v, want one naming /nonexistent/crun", err)
	}
}

func TestSealInBackground(t *testing.T) {
	binary, err := exec.LookPath("true")
	if err != nil {
		t.Skip("needs true(1) in PATH")
	}
	log := logrus.NewEntry(logrus.New())

	sealed := SealInBackground(binary, log)
	first := sealed()
	if !strings.HasPrefix(first, "/proc/self/fd/") {
		t.Fatalf("sealed() = %q, want /proc/self/fd/N", first)
	}
	if again := sealed(); again != first {
		t.Errorf("second call = %q, want %q again", again, first)
	}

	if missing := SealInBackground("/nonexistent/crun", log)(); missing != "" {
		t.Errorf("sealed() for a missing runtime = %q, want \"\"", missing)
	}
}
