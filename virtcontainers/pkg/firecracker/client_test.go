package firecracker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker/fctest"
)

// The stand-in API server (package fctest) is written from Firecracker's
// swagger schema; it is not Firecracker.
func startStandIn(t *testing.T) (*fctest.Server, *firecracker.Client, string) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	s, err := fctest.Listen(sock, fctest.Options{ID: "sb1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, firecracker.NewClient(sock), dir
}

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClientSendsSchemaBodies(t *testing.T) {
	s, c, dir := startStandIn(t)
	ctx := context.Background()
	kernel := touch(t, filepath.Join(dir, "Image"))
	disk := touch(t, filepath.Join(dir, "disk.img"))
	disk2 := touch(t, filepath.Join(dir, "disk2.img"))
	logPath := touch(t, filepath.Join(dir, "log"))
	metricsPath := touch(t, filepath.Join(dir, "metrics"))
	uds := filepath.Join(dir, "v.sock")

	calls := []struct {
		name     string
		call     func() error
		wantPath string
		wantBody string
	}{
		{"logger", func() error {
			return c.PutLogger(ctx, firecracker.Logger{LogPath: logPath, Level: firecracker.LogDebug, ShowLevel: true})
		}, "PUT /logger", `{"log_path":"` + logPath + `","level":"Debug","show_level":true,"show_log_origin":false}`},
		{"metrics", func() error { return c.PutMetrics(ctx, firecracker.Metrics{MetricsPath: metricsPath}) },
			"PUT /metrics", `{"metrics_path":"` + metricsPath + `"}`},
		{"machine-config", func() error {
			return c.PutMachineConfig(ctx, firecracker.MachineConfig{VCPUCount: 2, MemSizeMiB: 512})
		}, "PUT /machine-config", `{"vcpu_count":2,"mem_size_mib":512}`},
		{"boot-source", func() error {
			return c.PutBootSource(ctx, firecracker.BootSource{KernelImagePath: kernel, BootArgs: "panic=1"})
		}, "PUT /boot-source", `{"kernel_image_path":"` + kernel + `","boot_args":"panic=1"}`},
		{"drive", func() error {
			return c.PutDrive(ctx, firecracker.Drive{DriveID: "drive_0", IsReadOnly: true, PathOnHost: disk})
		}, "PUT /drives/drive_0", `{"drive_id":"drive_0","is_root_device":false,"is_read_only":true,"path_on_host":"` + disk + `"}`},
		{"network-interface", func() error {
			return c.PutNetworkInterface(ctx, firecracker.NetworkInterface{IfaceID: "eth0", HostDevName: "tap0", GuestMAC: "02:00:00:00:00:01", MTU: 1500})
		}, "PUT /network-interfaces/eth0", `{"iface_id":"eth0","host_dev_name":"tap0","guest_mac":"02:00:00:00:00:01","mtu":1500}`},
		{"vsock", func() error { return c.PutVsock(ctx, firecracker.Vsock{GuestCID: 3, UDSPath: uds}) },
			"PUT /vsock", `{"guest_cid":3,"uds_path":"` + uds + `"}`},
		{"instance-start", func() error { return c.PutAction(ctx, firecracker.ActionInstanceStart) },
			"PUT /actions", `{"action_type":"InstanceStart"}`},
		{"patch-drive", func() error {
			return c.PatchDrive(ctx, firecracker.PartialDrive{DriveID: "drive_0", PathOnHost: disk2})
		}, "PATCH /drives/drive_0", `{"drive_id":"drive_0","path_on_host":"` + disk2 + `"}`},
		{"pause", func() error { return c.PatchVM(ctx, firecracker.VMPaused) }, "PATCH /vm", `{"state":"Paused"}`},
		{"resume", func() error { return c.PatchVM(ctx, firecracker.VMResumed) }, "PATCH /vm", `{"state":"Resumed"}`},
	}
	for _, call := range calls {
		if err := call.call(); err != nil {
			t.Fatalf("%s: %v", call.name, err)
		}
	}

	reqs := s.Requests()
	if len(reqs) != len(calls) {
		t.Fatalf("requests: got %d, want %d", len(reqs), len(calls))
	}
	for i, call := range calls {
		got := reqs[i].Method + " " + reqs[i].Path
		if got != call.wantPath {
			t.Errorf("%s: got request %s, want %s", call.name, got, call.wantPath)
		}
		if reqs[i].Body != call.wantBody {
			t.Errorf("%s: got body\n%s\nwant\n%s", call.name, reqs[i].Body, call.wantBody)
		}
	}

	info, err := c.DescribeInstance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := firecracker.InstanceInfo{AppName: "Firecracker", ID: "sb1", State: firecracker.StateRunning, VMMVersion: "1.12.0"}
	if info != want {
		t.Errorf("GET /: got %+v, want %+v", info, want)
	}
}

func TestClientFaultMessageError(t *testing.T) {
	_, c, _ := startStandIn(t)
	err := c.PutMachineConfig(context.Background(), firecracker.MachineConfig{VCPUCount: 64, MemSizeMiB: 128})

	var apiErr *firecracker.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("PUT /machine-config with 64 vCPUs: got %v, want an *APIError", err)
	}
	if apiErr.StatusCode != 400 || apiErr.Method != "PUT" || apiErr.Path != "/machine-config" {
		t.Errorf("APIError request: got %d %s %s, want 400 PUT /machine-config", apiErr.StatusCode, apiErr.Method, apiErr.Path)
	}
	if apiErr.Body != `{"vcpu_count":64,"mem_size_mib":128}` {
		t.Errorf("APIError body: got %q, want the request body", apiErr.Body)
	}
	if !strings.Contains(apiErr.FaultMessage, "above the maximum 32") {
		t.Errorf("APIError fault_message: got %q, want the server's message", apiErr.FaultMessage)
	}
	msg := err.Error()
	for _, want := range []string{"PUT /machine-config", `"vcpu_count":64`, "status 400", "above the maximum 32"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error text %q: want it to contain %q", msg, want)
		}
	}
	if !firecracker.IsAPIError(err, 400) {
		t.Errorf("IsAPIError(err, 400): got false, want true")
	}
}

func TestClientNoSocket(t *testing.T) {
	c := firecracker.NewClient(filepath.Join(t.TempDir(), "missing.sock"))
	_, err := c.DescribeInstance(context.Background())
	if err == nil || !strings.Contains(err.Error(), "missing.sock") {
		t.Errorf("GET / without a socket: got %v, want an error naming the socket", err)
	}
	if firecracker.IsAPIError(err, 400) {
		t.Errorf("a dial error must not be an APIError")
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    string
		wantErr bool
	}{
		{"release with snapshot list", "Firecracker v1.12.0\n\nSupported snapshot data format versions: v6.0.0\n", "1.12.0", false},
		{"dev build", "Firecracker v1.13.0-dev\n", "1.13.0-dev", false},
		{"leading blank line", "\nFirecracker v1.4.1\n", "1.4.1", false},
		{"other program", "QEMU emulator version 7.2.0\n", "", true},
		{"jailer", "Jailer v1.12.0\n", "", true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := firecracker.ParseVersion([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseVersion(%q): got error %v, want error %v", tt.out, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseVersion(%q): got %q, want %q", tt.out, got, tt.want)
			}
		})
	}
}

func TestVersionRunsBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "firecracker")
	script := "#!/bin/sh\n[ \"$1\" = --version ] || exit 2\nprintf 'Firecracker v1.12.1\\n\\nSupported snapshot data format versions: v5.0.0\\n'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := firecracker.Version(context.Background(), bin)
	if err != nil || got != "1.12.1" {
		t.Errorf("Version(%s): got %q, %v; want \"1.12.1\"", bin, got, err)
	}

	if _, err := firecracker.Version(context.Background(), filepath.Join(dir, "missing")); err == nil {
		t.Errorf("Version of a missing binary: got no error")
	}

	jailer := filepath.Join(dir, "jailer")
	script = "#!/bin/sh\n[ \"$1\" = --version ] || exit 2\nprintf 'Jailer v1.12.1\\n'\n"
	if err := os.WriteFile(jailer, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := firecracker.JailerVersion(context.Background(), jailer); err != nil || got != "1.12.1" {
		t.Errorf("JailerVersion(%s): got %q, %v; want \"1.12.1\"", jailer, got, err)
	}
	if _, err := firecracker.Version(context.Background(), jailer); err == nil {
		t.Errorf("Version of a jailer binary: got no error, want a mismatch")
	}
}
