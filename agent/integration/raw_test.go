//go:build integration

package integration

import (
	"net"
	"path/filepath"
	"testing"
)

// dialRaw opens a second plain connection to the agent's socket.
func dialRaw(t *testing.T, a *agentProcess) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", filepath.Join(a.dir, "agent.sock"))
	if err != nil {
		t.Fatalf("dialing the agent: %v", err)
	}
	return conn
}
