package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestText(t *testing.T) {
	m := New(func() int { return 3 })
	m.ObserveRequest("/grpc.AgentService/CreateContainer", "OK", 2*time.Millisecond)

	text, err := m.Text()
	if err != nil {
		t.Fatalf("Text: %v", err)
	}
	for _, want := range []string{
		`kata_agent_requests_total{code="OK",method="/grpc.AgentService/CreateContainer"} 1`,
		"kata_agent_containers 3",
		"# TYPE kata_agent_request_duration_seconds histogram",
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics text lacks %q", want)
		}
	}
}
