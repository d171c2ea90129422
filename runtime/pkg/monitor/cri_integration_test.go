//go:build integration

package monitor

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCRIContainerd checks the CRI client against a real containerd, whose
// main socket (kata-monitor's default -runtime-endpoint) must serve
// ListPodSandbox.
func TestCRIContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("this test runs containerd and needs root")
	}
	binary, err := exec.LookPath("containerd")
	if err != nil {
		t.Skipf("this test needs containerd (Debian package containerd): %v", err)
	}

	dir := shortTempDir(t)
	socket := filepath.Join(dir, "containerd.sock")
	config := filepath.Join(dir, "config.toml")
	configText := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), socket, socket+".ttrpc")
	if err := os.WriteFile(config, []byte(configText), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "--config", config)
	log, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		_ = log.Close()
	})

	cache, err := newPodCache(socket, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer cache.close()

	// containerd serves CRI a moment after it starts.
	deadline := time.Now().Add(60 * time.Second)
	for {
		err = cache.refresh(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("ListPodSandbox on containerd: %v\ncontainerd log:\n%s", err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, ok := cache.lookup("no-such-pod"); ok {
		t.Errorf("lookup of a pod containerd does not run: found, want not found")
	}
}
