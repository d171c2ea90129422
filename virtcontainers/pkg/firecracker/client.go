// Package firecracker is a typed client for the Firecracker VMM's HTTP API,
// which Firecracker serves on a Unix socket (the --api-sock path). Each API
// resource has its own file. The request bodies follow Firecracker's published
// swagger schema (src/firecracker/swagger/firecracker.yaml, v1.4 to v1.17),
// which is the same on every architecture, riscv64 included.
package firecracker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// maxBodySummary bounds how much of a request body an APIError repeats, so
// that errors stay one readable line.
const maxBodySummary = 256

// Client sends requests to one Firecracker process. It is safe for concurrent
// use.
type Client struct {
	socketPath string
	http       *http.Client
}

// NewClient returns a client for the API socket at socketPath. The socket
// need not exist yet: every request dials it anew.
func NewClient(socketPath string) *Client {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		// Firecracker serves one connection at a time and keeps none idle
		// worth reusing between the few calls of a VM's life.
		DisableKeepAlives: true,
	}
	return &Client{
		socketPath: socketPath,
		http:       &http.Client{Transport: transport, Timeout: 30 * time.Second},
	}
}

// SocketPath returns the API socket the client dials.
func (c *Client) SocketPath() string { return c.socketPath }

// APIError is an error response from Firecracker. It carries the request
// that caused it, so that a log line alone shows what the runtime sent.
type APIError struct {
	Method string
	Path   string
	// Body is the request body, cut to maxBodySummary bytes.
	Body string
	// StatusCode is the HTTP status, 400 for bad input.
	StatusCode int
	// FaultMessage is Firecracker's explanation, from the response's
	// fault_message field; empty when the response had none.
	FaultMessage string
}

func (e *APIError) Error() string {
	msg := e.FaultMessage
	if msg == "" {
		msg = "no fault_message in the response"
	}
	if e.Body == "" {
		return fmt.Sprintf("firecracker API %s %s: status %d: %s", e.Method, e.Path, e.StatusCode, msg)
	}
	return fmt.Sprintf("firecracker API %s %s %s: status %d: %s", e.Method, e.Path, e.Body, e.StatusCode, msg)
}

// faultResponse is Firecracker's error body.
type faultResponse struct {
	FaultMessage string `json:"fault_message"`
}

// do sends one request. A non-nil in is encoded as the JSON body; a non-nil
// out receives the decoded 200 response. 204 and 200 are success; any other
// status becomes an *APIError.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		body, err = json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding firecracker API %s %s: %w", method, path, err)
		}
	}

	req, err := http.NewRequestWithContext(ctx, method, "http://localhost"+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building firecracker API %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("firecracker API %s %s on %s: %w", method, path, c.socketPath, err)
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading firecracker API %s %s response: %w", method, path, err)
	}

	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		apiErr := &APIError{
			Method:     method,
			Path:       path,
			Body:       summarize(body),
			StatusCode: resp.StatusCode,
		}
		var fault faultResponse
		if json.Unmarshal(respBody, &fault) == nil {
			apiErr.FaultMessage = fault.FaultMessage
		} else {
			apiErr.FaultMessage = summarize(respBody)
		}
		return apiErr
	}

	if out == nil {
		return nil
	}
	if err := json.Unmarshal(respBody, out); err != nil {
		return fmt.Errorf("decoding firecracker API %s %s response %q: %w", method, path, summarize(respBody), err)
	}
	return nil
}

func summarize(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxBodySummary {
		return s[:maxBodySummary] + "..."
	}
	return s
}

// IsAPIError reports whether err is a Firecracker error response with the
// given status code.
func IsAPIError(err error, status int) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}
