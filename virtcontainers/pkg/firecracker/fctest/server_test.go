package fctest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawClient sends hand-written requests, so that tests can send what the
// typed client never would.
type rawClient struct {
	t    *testing.T
	http *http.Client
}

func newRawClient(t *testing.T, sock string) *rawClient {
	return &rawClient{t: t, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
}

// send returns the status and the fault_message of the response.
func (c *rawClient) send(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, "http://localhost"+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	var fault struct {
		FaultMessage *string `json:"fault_message"`
	}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(data, &fault); err != nil || fault.FaultMessage == nil {
			c.t.Fatalf("%s %s: status %d with body %q, want a JSON fault_message", method, path, resp.StatusCode, data)
		}
		return resp.StatusCode, *fault.FaultMessage
	}
	return resp.StatusCode, ""
}

type standIn struct {
	server *Server
	client *rawClient
	dir    string
	kernel string
	disk   string
}

func startStandIn(t *testing.T, opts Options) *standIn {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	s, err := Listen(sock, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	si := &standIn{server: s, client: newRawClient(t, sock), dir: dir,
		kernel: filepath.Join(dir, "Image"), disk: filepath.Join(dir, "disk.img")}
	for _, f := range []string{si.kernel, si.disk} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return si
}

// boot configures a kernel and sends InstanceStart.
func (si *standIn) boot(t *testing.T) {
	t.Helper()
	if code, msg := si.client.send("PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q}`, si.kernel)); code != 204 {
		t.Fatalf("PUT /boot-source: got %d %q, want 204", code, msg)
	}
	if code, msg := si.client.send("PUT", "/actions", `{"action_type":"InstanceStart"}`); code != 204 {
		t.Fatalf("InstanceStart: got %d %q, want 204", code, msg)
	}
}

func TestStandInSchemaRejectsBadBodies(t *testing.T) {
	si := startStandIn(t, Options{})
	tests := []struct {
		name, method, path, body string
		wantInFault              string
	}{
		{"unknown field", "PUT", "/machine-config", `{"vcpu_count":1,"mem_size_mib":128,"vcpus":2}`, "unknown field `vcpus`"},
		{"missing required", "PUT", "/machine-config", `{"vcpu_count":1}`, "missing field `mem_size_mib`"},
		{"string for integer", "PUT", "/machine-config", `{"vcpu_count":"1","mem_size_mib":128}`, "expected an integer"},
		{"fraction for integer", "PUT", "/machine-config", `{"vcpu_count":1.5,"mem_size_mib":128}`, "expected an integer"},
		{"vcpus above 32", "PUT", "/machine-config", `{"vcpu_count":33,"mem_size_mib":128}`, "above the maximum 32"},
		{"zero vcpus", "PUT", "/machine-config", `{"vcpu_count":0,"mem_size_mib":128}`, "below the minimum 1"},
		{"smt off x86", "PUT", "/machine-config", `{"vcpu_count":2,"mem_size_mib":128,"smt":true}`, "not supported on riscv64"},
		{"not an object", "PUT", "/boot-source", `["x"]`, "invalid BootSource body"},
		{"missing kernel", "PUT", "/boot-source", `{"boot_args":"console=ttyS0"}`, "missing field `kernel_image_path`"},
		{"kernel not found", "PUT", "/boot-source", `{"kernel_image_path":"/nonexistent/Image"}`, "Cannot open kernel_image_path"},
		{"initrd on riscv64", "PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q,"initrd_path":%q}`, si.kernel, si.disk), "initrd is not supported on riscv64"},
		{"drive id mismatch", "PUT", "/drives/a", fmt.Sprintf(`{"drive_id":"b","is_root_device":false,"is_read_only":true,"path_on_host":%q}`, si.disk), "does not match"},
		{"drive without read-only flag", "PUT", "/drives/a", fmt.Sprintf(`{"drive_id":"a","is_root_device":false,"path_on_host":%q}`, si.disk), "missing field `is_read_only`"},
		{"bool as string", "PUT", "/drives/a", fmt.Sprintf(`{"drive_id":"a","is_root_device":"false","is_read_only":true,"path_on_host":%q}`, si.disk), "expected a boolean"},
		{"bad cache type", "PUT", "/drives/a", fmt.Sprintf(`{"drive_id":"a","is_root_device":false,"is_read_only":true,"path_on_host":%q,"cache_type":"None"}`, si.disk), "unknown variant `None`"},
		{"drive file missing", "PUT", "/drives/a", `{"drive_id":"a","is_root_device":false,"is_read_only":true,"path_on_host":"/nonexistent.img"}`, "Cannot open path_on_host"},
		{"guest cid 2", "PUT", "/vsock", fmt.Sprintf(`{"guest_cid":2,"uds_path":%q}`, filepath.Join(si.dir, "v.sock")), "below the minimum 3"},
		{"mtu too small", "PUT", "/network-interfaces/eth0", `{"iface_id":"eth0","host_dev_name":"tap0","mtu":10}`, "below the minimum 68"},
		{"missing host dev", "PUT", "/network-interfaces/eth0", `{"iface_id":"eth0"}`, "missing field `host_dev_name`"},
		{"bad action", "PUT", "/actions", `{"action_type":"Reboot"}`, "unknown variant `Reboot`"},
		{"logger file missing", "PUT", "/logger", `{"log_path":"/nonexistent/log"}`, "Failed to open target file"},
		{"metrics without path", "PUT", "/metrics", `{}`, "missing field `metrics_path`"},
		{"unknown path", "GET", "/nothing", ``, "Invalid request method and/or path"},
		{"start without kernel", "PUT", "/actions", `{"action_type":"InstanceStart"}`, "without kernel configuration"},
		{"ctrl-alt-del on riscv64", "PUT", "/actions", `{"action_type":"SendCtrlAltDel"}`, "not supported on riscv64"},
		{"patch vm before boot", "PATCH", "/vm", `{"state":"Paused"}`, "before starting the microVM"},
		{"patch drive before boot", "PATCH", "/drives/a", `{"drive_id":"a"}`, "before starting the microVM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := si.client.send(tt.method, tt.path, tt.body)
			if code != http.StatusBadRequest {
				t.Fatalf("%s %s %s: got status %d, want 400", tt.method, tt.path, tt.body, code)
			}
			if !strings.Contains(msg, tt.wantInFault) {
				t.Errorf("%s %s: got fault_message %q, want it to contain %q", tt.method, tt.path, msg, tt.wantInFault)
			}
		})
	}
	if got := si.server.State(); got != "Not started" {
		t.Errorf("state after rejected requests: got %q, want \"Not started\"", got)
	}
}

func TestStandInBootRules(t *testing.T) {
	si := startStandIn(t, Options{})
	drive := fmt.Sprintf(`{"drive_id":"d0","is_root_device":false,"is_read_only":false,"path_on_host":%q}`, si.disk)
	if code, msg := si.client.send("PUT", "/drives/d0", drive); code != 204 {
		t.Fatalf("PUT /drives/d0 before boot: got %d %q, want 204", code, msg)
	}
	si.boot(t)

	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantInFault              string
	}{
		{"second start", "PUT", "/actions", `{"action_type":"InstanceStart"}`, 400, "after starting the microVM"},
		{"machine-config after boot", "PUT", "/machine-config", `{"vcpu_count":1,"mem_size_mib":128}`, 400, "after starting the microVM"},
		{"boot-source after boot", "PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q}`, si.kernel), 400, "after starting the microVM"},
		{"drive after boot", "PUT", "/drives/d1", drive, 400, "after starting the microVM"},
		{"vsock after boot", "PUT", "/vsock", `{"guest_cid":3,"uds_path":"/tmp/x"}`, 400, "after starting the microVM"},
		{"net after boot", "PUT", "/network-interfaces/eth0", `{"iface_id":"eth0","host_dev_name":"tap0"}`, 400, "after starting the microVM"},
		{"patch unknown drive", "PATCH", "/drives/nope", `{"drive_id":"nope"}`, 400, "Invalid block device ID"},
		{"patch drive extra field", "PATCH", "/drives/d0", `{"drive_id":"d0","is_read_only":true}`, 400, "unknown field `is_read_only`"},
		{"patch drive", "PATCH", "/drives/d0", fmt.Sprintf(`{"drive_id":"d0","path_on_host":%q}`, si.kernel), 204, ""},
		{"bad vm state", "PATCH", "/vm", `{"state":"Stopped"}`, 400, "unknown variant `Stopped`"},
		{"pause", "PATCH", "/vm", `{"state":"Paused"}`, 204, ""},
		{"flush without metrics", "PUT", "/actions", `{"action_type":"FlushMetrics"}`, 400, "Metrics system is not initialized"},
	}
	for _, tt := range tests {
		code, msg := si.client.send(tt.method, tt.path, tt.body)
		if code != tt.wantCode {
			t.Errorf("%s: %s %s: got status %d (%q), want %d", tt.name, tt.method, tt.path, code, msg, tt.wantCode)
			continue
		}
		if !strings.Contains(msg, tt.wantInFault) {
			t.Errorf("%s: got fault_message %q, want it to contain %q", tt.name, msg, tt.wantInFault)
		}
	}

	if got, _ := si.server.DrivePath("d0"); got != si.kernel {
		t.Errorf("drive d0 after PATCH: got path %q, want %q", got, si.kernel)
	}
	if got := si.server.State(); got != "Paused" {
		t.Errorf("state after PATCH /vm Paused: got %q, want Paused", got)
	}
	reqs := si.server.Requests()
	if len(reqs) != len(tests)+3 {
		t.Errorf("recorded requests: got %d, want %d", len(reqs), len(tests)+3)
	}
}

func TestStandInLoggerAndMetricsOnce(t *testing.T) {
	si := startStandIn(t, Options{})
	logPath := filepath.Join(si.dir, "log")
	metricsPath := filepath.Join(si.dir, "metrics")
	for _, p := range []string{logPath, metricsPath} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		path, body string
		wantCode   int
	}{
		{"/logger", fmt.Sprintf(`{"log_path":%q,"level":"Debug","show_level":true}`, logPath), 204},
		{"/logger", fmt.Sprintf(`{"log_path":%q}`, logPath), 400},
		{"/metrics", fmt.Sprintf(`{"metrics_path":%q}`, metricsPath), 204},
		{"/metrics", fmt.Sprintf(`{"metrics_path":%q}`, metricsPath), 400},
	}
	for i, st := range steps {
		if code, msg := si.client.send("PUT", st.path, st.body); code != st.wantCode {
			t.Errorf("step %d PUT %s: got %d (%q), want %d", i, st.path, code, msg, st.wantCode)
		}
	}
	si.boot(t)

	logData, _ := os.ReadFile(logPath)
	if !strings.Contains(string(logData), "instance started") {
		t.Errorf("log after InstanceStart: got %q, want a line containing \"instance started\"", logData)
	}
	metricsData, _ := os.ReadFile(metricsPath)
	var m map[string]any
	if err := json.Unmarshal(metricsData, &m); err != nil || m["utc_timestamp_ms"] == nil {
		t.Errorf("metrics after InstanceStart: got %q (%v), want a JSON object with utc_timestamp_ms", metricsData, err)
	}
}

func TestStandInHybridVsock(t *testing.T) {
	si := startStandIn(t, Options{GuestPorts: map[uint32]func(net.Conn){
		1024: func(c net.Conn) { defer func() { _ = c.Close() }(); _, _ = io.Copy(c, c) },
	}})
	uds := filepath.Join(si.dir, "v.sock")
	if code, msg := si.client.send("PUT", "/vsock", fmt.Sprintf(`{"guest_cid":3,"uds_path":%q}`, uds)); code != 204 {
		t.Fatalf("PUT /vsock: got %d %q, want 204", code, msg)
	}

	connect := func(port int) (string, net.Conn) {
		t.Helper()
		c, err := net.Dial("unix", uds)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = fmt.Fprintf(c, "CONNECT %d\n", port)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return "closed", c
		}
		return line, c
	}

	got, c := connect(1024)
	_ = c.Close()
	if got != "closed" {
		t.Errorf("CONNECT 1024 before InstanceStart: got %q, want the connection closed", got)
	}

	si.boot(t)
	got, c = connect(1024)
	defer func() { _ = c.Close() }()
	if !strings.HasPrefix(got, "OK ") {
		t.Fatalf("CONNECT 1024 after boot: got %q, want \"OK <port>\\n\"", got)
	}
	_, _ = fmt.Fprintf(c, "ping\n")
	echo, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || echo != "ping\n" {
		t.Errorf("echo over the vsock connection: got %q (%v), want \"ping\\n\"", echo, err)
	}

	got, c2 := connect(9999)
	_ = c2.Close()
	if got != "closed" {
		t.Errorf("CONNECT to a port without a guest listener: got %q, want the connection closed", got)
	}
}

func TestStandInX86Rules(t *testing.T) {
	shutdown := make(chan struct{})
	si := startStandIn(t, Options{Arch: "x86_64", OnShutdown: func() { close(shutdown) }})

	steps := []struct {
		name, method, path, body string
		wantCode                 int
	}{
		{"smt", "PUT", "/machine-config", `{"vcpu_count":2,"mem_size_mib":128,"smt":true}`, 204},
		{"initrd", "PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q,"initrd_path":%q}`, si.kernel, si.disk), 204},
		{"initrd missing", "PUT", "/boot-source", fmt.Sprintf(`{"kernel_image_path":%q,"initrd_path":"/nonexistent"}`, si.kernel), 400},
		{"ctrl-alt-del before boot", "PUT", "/actions", `{"action_type":"SendCtrlAltDel"}`, 400},
		{"start", "PUT", "/actions", `{"action_type":"InstanceStart"}`, 204},
		{"ctrl-alt-del", "PUT", "/actions", `{"action_type":"SendCtrlAltDel"}`, 204},
	}
	for _, st := range steps {
		if code, msg := si.client.send(st.method, st.path, st.body); code != st.wantCode {
			t.Errorf("%s: got %d (%q), want %d", st.name, code, msg, st.wantCode)
		}
	}
	select {
	case <-shutdown:
	case <-time.After(10 * time.Second):
		t.Errorf("OnShutdown after SendCtrlAltDel: not called")
	}
}
