package monitor

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntimeService is a CRI RuntimeService that lists fixed pods; every
// other method returns Unimplemented.
type fakeRuntimeService struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	pods  []*runtimeapi.PodSandbox
	calls atomic.Int64
}

func (f *fakeRuntimeService) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	f.calls.Add(1)
	return &runtimeapi.ListPodSandboxResponse{Items: f.pods}, nil
}

// startCRI serves service over gRPC on a Unix socket and returns its path.
func startCRI(t *testing.T, service runtimeapi.RuntimeServiceServer) string {
	t.Helper()
	path := filepath.Join(shortTempDir(t), "cri.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(server, service)
	go func() { _ = server.Serve(l) }()
	t.Cleanup(server.Stop)
	return path
}

func TestCRILabels(t *testing.T) {
	cri := &fakeRuntimeService{pods: []*runtimeapi.PodSandbox{{
		Id: "sba",
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: "web-0", Uid: "6c3f1f0e-uid", Namespace: "shop",
		},
		State: runtimeapi.PodSandboxState_SANDBOX_READY,
	}}}
	endpoint := startCRI(t, cri)

	dir := shortTempDir(t)
	startShim(t, dir, "sba", false, 1000)
	startShim(t, dir, "sbb", false, 2000)

	for _, form := range []string{endpoint, "unix://" + endpoint} {
		t.Run(form, func(t *testing.T) {
			tm := startMonitor(t, Config{SandboxesDir: dir, RuntimeEndpoint: form})
			tm.waitForSandboxes(t, "sba", "sbb")

			want := map[string]string{
				"sandbox_id": "sba", "cri_uid": "6c3f1f0e-uid", "cri_name": "web-0", "cri_namespace": "shop",
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				families, _ := tm.getMetrics(t, "/metrics")
				if _, ok := sample(t, families, "kata_agent_total_rss", want); ok {
					// A sandbox the container manager does not list gets
					// only its sandbox_id.
					for _, m := range families["kata_agent_total_rss"].GetMetric() {
						if hasLabels(m, map[string]string{"sandbox_id": "sbb"}) && len(m.Label) != 1 {
							t.Errorf("labels of sbb, unknown to CRI: got %v, want only sandbox_id", m.Label)
						}
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("kata_agent_total_rss%v: missing after 20s", want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	if cri.calls.Load() == 0 {
		t.Errorf("ListPodSandbox calls: got 0, want at least 1")
	}
}

func TestCRIUnavailable(t *testing.T) {
	// An HTTP server on the socket simulates an endpoint that is not CRI,
	// and a path with no socket a container manager that is not running.
	notCRI := filepath.Join(shortTempDir(t), "http.sock")
	l, err := net.Listen("unix", notCRI)
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: http.NotFoundHandler()}
	go func() { _ = server.Serve(l) }()
	t.Cleanup(func() { _ = server.Close() })

	tests := []struct {
		name     string
		endpoint string
	}{
		{"missing socket", filepath.Join(shortTempDir(t), "nothing.sock")},
		{"not CRI", notCRI},
		{"disabled", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := shortTempDir(t)
			startShim(t, dir, "sba", false, 1000)
			tm := startMonitor(t, Config{SandboxesDir: dir, RuntimeEndpoint: tt.endpoint})
			tm.waitForSandboxes(t, "sba")

			families, _ := tm.getMetrics(t, "/metrics")
			metrics := families["kata_agent_total_rss"].GetMetric()
			if len(metrics) != 1 {
				t.Fatalf("kata_agent_total_rss samples: got %d, want 1", len(metrics))
			}
			if got := len(metrics[0].Label); got != 1 {
				t.Errorf("labels without CRI: got %v, want only sandbox_id", metrics[0].Label)
			}
			if v, _ := sample(t, families, "kata_monitor_scrape_failed_count", nil); v != 0 {
				t.Errorf("kata_monitor_scrape_failed_count without CRI: got %v, want 0", v)
			}
		})
	}
}

func TestNewRejectsTCPEndpoint(t *testing.T) {
	if _, err := New(Config{RuntimeEndpoint: "tcp://127.0.0.1:1", Logger: quietLogger()}); err == nil {
		t.Errorf("New with a tcp:// runtime endpoint: got no error, want one")
	}
}
