// Package fctest is a stand-in for Firecracker's API server, for tests of
// code that drives Firecracker. It is not Firecracker: it boots nothing. It is
// written from Firecracker's published API schema
// (src/firecracker/swagger/firecracker.yaml) and enforces what that schema
// and Firecracker's documented behaviour require of a client:
//
//   - request bodies match the swagger definitions: required fields present,
//     types and enums right, unknown fields rejected;
//   - pre-boot resources (machine-config, boot-source, PUT drives,
//     network-interfaces, vsock) are rejected after InstanceStart, and
//     post-boot requests (PATCH drives, PATCH vm, FlushMetrics) before it;
//   - InstanceStart is accepted once, and only with a boot source;
//   - host files named in requests must exist, as Firecracker opens them;
//   - logger and metrics are configured once each;
//   - errors are 400 with a JSON {"fault_message": ...} body, success is 204.
//
// It also serves the vsock device's Unix socket with Firecracker's hybrid
// vsock handshake, with guest ports emulated by handlers the test registers,
// and records every request so tests can assert the exact sequence.
package fctest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kata-riscv64/kata-riscv64/virtcontainers/pkg/firecracker"
)

// Options configures a stand-in server.
type Options struct {
	// ID is the instance id GET / reports; Firecracker's default is
	// "anonymous-instance".
	ID string
	// Arch is the architecture the stand-in models, "riscv64" by default.
	// On riscv64, SendCtrlAltDel and initrd_path are rejected, as in the
	// riscv64 port of Firecracker.
	Arch string
	// Root, when set, is a jail root: absolute paths in requests are resolved
	// under it, as they are inside the jailer's chroot.
	Root string
	// VMMVersion is the version GET / reports.
	VMMVersion string
	// GuestPorts are the vsock ports a guest listens on once the instance
	// runs. A host connection to one of them is handed to its handler after
	// the "OK" line. Connections to other ports are closed, as Firecracker
	// does when the guest rejects the connection.
	GuestPorts map[uint32]func(net.Conn)
	// OnShutdown, when set, runs after an accepted SendCtrlAltDel (non-riscv64
	// architectures only): a real guest would then shut down and Firecracker
	// would exit.
	OnShutdown func()
	// Record, when set, receives each request as one JSON line (a Request
	// object) before its response is sent, for tests that watch a stand-in
	// running in another process.
	Record io.Writer
}

// Request is one request the server received, valid or not.
type Request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Body is the raw request body.
	Body string `json:"body"`
	// StatusCode is the response status.
	StatusCode int `json:"status_code"`
}

// Server is a running stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	listener net.Listener
	http     *http.Server
	done     chan struct{}

	// mu guards every field below.
	mu         sync.Mutex
	requests   []Request
	state      firecracker.InstanceState
	bootSource map[string]any
	machine    map[string]any
	drives     map[string]map[string]any
	driveOrder []string
	ifaces     map[string]map[string]any
	loggerSet  bool
	logFile    *os.File
	metricsSet bool
	metrics    *os.File
	vsock      *vsockListener
}

// errFault is a rejected request; its text becomes the fault_message.
type errFault struct{ msg string }

func (e errFault) Error() string { return e.msg }

func faultf(format string, args ...any) error { return errFault{fmt.Sprintf(format, args...)} }

// Listen starts a stand-in serving the API on a Unix socket at socketPath.
func Listen(socketPath string, opts Options) (*Server, error) {
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("listening on the stand-in API socket %s: %w", socketPath, err)
	}
	return Serve(l, opts), nil
}

// Serve starts a stand-in serving the API on l. Close stops it.
func Serve(l net.Listener, opts Options) *Server {
	if opts.ID == "" {
		opts.ID = "anonymous-instance"
	}
	if opts.Arch == "" {
		opts.Arch = "riscv64"
	}
	if opts.VMMVersion == "" {
		opts.VMMVersion = "1.12.0"
	}
	s := &Server{
		opts:     opts,
		listener: l,
		done:     make(chan struct{}),
		state:    firecracker.StateNotStarted,
		drives:   map[string]map[string]any{},
		ifaces:   map[string]map[string]any{},
	}
	s.http = &http.Server{Handler: http.HandlerFunc(s.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.http.Serve(l)
	}()
	return s
}

// Close stops the API server and the vsock listener and closes the log and
// metrics files.
func (s *Server) Close() error {
	err := s.http.Close()
	<-s.done

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vsock != nil {
		s.vsock.close()
	}
	if s.logFile != nil {
		_ = s.logFile.Close()
	}
	if s.metrics != nil {
		_ = s.metrics.Close()
	}
	return err
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// State returns the instance state.
func (s *Server) State() firecracker.InstanceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// DrivePath returns the host path drive id currently points at, and whether
// the drive exists.
func (s *Server) DrivePath(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.drives[id]
	if !ok {
		return "", false
	}
	p, _ := d["path_on_host"].(string)
	return p, true
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeFault(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	out, err := s.route(r.Method, r.URL.Path, body)
	status := http.StatusNoContent
	switch {
	case err != nil:
		status = http.StatusBadRequest
		var fault errFault
		if !errors.As(err, &fault) {
			status = http.StatusInternalServerError
		}
	case out != nil:
		status = http.StatusOK
	}
	req := Request{Method: r.Method, Path: r.URL.Path, Body: string(body), StatusCode: status}
	s.requests = append(s.requests, req)
	if s.opts.Record != nil {
		line, _ := json.Marshal(req)
		_, _ = s.opts.Record.Write(append(line, '\n'))
	}

	switch {
	case err != nil:
		writeFault(w, status, err.Error())
	case out != nil:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	default:
		w.WriteHeader(status)
	}
}

func writeFault(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"fault_message": msg})
}

// route dispatches one request; s.mu is held. A non-nil result is sent as a
// 200 JSON body, a nil result as 204.
func (s *Server) route(method, path string, body []byte) (any, error) {
	resource, id, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch {
	case method == http.MethodGet && path == "/":
		return firecracker.InstanceInfo{AppName: "Firecracker", ID: s.opts.ID, State: s.state, VMMVersion: s.opts.VMMVersion}, nil
	case method == http.MethodPut && path == "/machine-config":
		return nil, s.putMachineConfig(body)
	case method == http.MethodPut && path == "/boot-source":
		return nil, s.putBootSource(body)
	case method == http.MethodPut && resource == "drives" && id != "":
		return nil, s.putDrive(id, body)
	case method == http.MethodPatch && resource == "drives" && id != "":
		return nil, s.patchDrive(id, body)
	case method == http.MethodPut && resource == "network-interfaces" && id != "":
		return nil, s.putNetworkInterface(id, body)
	case method == http.MethodPut && path == "/vsock":
		return nil, s.putVsock(body)
	case method == http.MethodPut && path == "/logger":
		return nil, s.putLogger(body)
	case method == http.MethodPut && path == "/metrics":
		return nil, s.putMetrics(body)
	case method == http.MethodPut && path == "/actions":
		return nil, s.putAction(body)
	case method == http.MethodPatch && path == "/vm":
		return nil, s.patchVM(body)
	}
	return nil, faultf("Invalid request method and/or path: %s %s", method, path)
}

func (s *Server) started() bool { return s.state != firecracker.StateNotStarted }

func (s *Server) preBoot(what string) error {
	if s.started() {
		return faultf("The requested operation is not supported after starting the microVM: %s", what)
	}
	return nil
}

func (s *Server) postBoot(what string) error {
	if !s.started() {
		return faultf("The requested operation is not supported before starting the microVM: %s", what)
	}
	return nil
}

// hostPath resolves a path from a request as Firecracker would see it,
// inside the jail root when there is one.
func (s *Server) hostPath(p string) string {
	if s.opts.Root == "" || !filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.opts.Root, p)
}

func (s *Server) mustExist(field, p string) error {
	if _, err := os.Stat(s.hostPath(p)); err != nil {
		return faultf("Cannot open %s %s: %v", field, p, err)
	}
	return nil
}

func (s *Server) putMachineConfig(body []byte) error {
	if err := s.preBoot("PUT /machine-config"); err != nil {
		return err
	}
	fields, err := defMachineConfiguration.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if smt, _ := fields["smt"].(bool); smt && s.opts.Arch != "x86_64" {
		return faultf("Enabling simultaneous multithreading is not supported on %s", s.opts.Arch)
	}
	s.machine = fields
	return nil
}

func (s *Server) putBootSource(body []byte) error {
	if err := s.preBoot("PUT /boot-source"); err != nil {
		return err
	}
	fields, err := defBootSource.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if err := s.mustExist("kernel_image_path", fields["kernel_image_path"].(string)); err != nil {
		return err
	}
	if initrd, ok := fields["initrd_path"].(string); ok {
		// NOTE: the riscv64 port loads no initrd; whether it rejects the
		// field here or ignores it is this stand-in's assumption.
		if s.opts.Arch == "riscv64" {
			return faultf("initrd is not supported on riscv64: %s", initrd)
		}
		if err := s.mustExist("initrd_path", initrd); err != nil {
			return err
		}
	}
	s.bootSource = fields
	return nil
}

func (s *Server) putDrive(id string, body []byte) error {
	if err := s.preBoot("PUT /drives/" + id); err != nil {
		return err
	}
	fields, err := defDrive.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if fields["drive_id"] != id {
		return faultf("The id from the path %q does not match the id from the body %q", id, fields["drive_id"])
	}
	if err := s.mustExist("path_on_host", fields["path_on_host"].(string)); err != nil {
		return err
	}
	if fields["is_root_device"].(bool) {
		for otherID, other := range s.drives {
			if otherID != id && other["is_root_device"].(bool) {
				return faultf("A root block device already exists: %s", otherID)
			}
		}
	}
	if _, exists := s.drives[id]; !exists {
		s.driveOrder = append(s.driveOrder, id)
	}
	s.drives[id] = fields
	return nil
}

func (s *Server) patchDrive(id string, body []byte) error {
	if err := s.postBoot("PATCH /drives/" + id); err != nil {
		return err
	}
	fields, err := defPartialDrive.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if fields["drive_id"] != id {
		return faultf("The id from the path %q does not match the id from the body %q", id, fields["drive_id"])
	}
	drive, ok := s.drives[id]
	if !ok {
		return faultf("Invalid block device ID: %s", id)
	}
	if p, ok := fields["path_on_host"].(string); ok {
		if err := s.mustExist("path_on_host", p); err != nil {
			return err
		}
		drive["path_on_host"] = p
	}
	return nil
}

func (s *Server) putNetworkInterface(id string, body []byte) error {
	if err := s.preBoot("PUT /network-interfaces/" + id); err != nil {
		return err
	}
	fields, err := defNetworkInterface.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if fields["iface_id"] != id {
		return faultf("The id from the path %q does not match the id from the body %q", id, fields["iface_id"])
	}
	// NOTE: Firecracker opens the tap device host_dev_name here; the
	// stand-in has no tap and checks only the schema.
	s.ifaces[id] = fields
	return nil
}

func (s *Server) putVsock(body []byte) error {
	if err := s.preBoot("PUT /vsock"); err != nil {
		return err
	}
	fields, err := defVsock.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	udsPath := fields["uds_path"].(string)
	if s.vsock != nil {
		s.vsock.close()
		s.vsock = nil
	}
	v, err := listenVsock(s.hostPath(udsPath), s)
	if err != nil {
		return faultf("Cannot create backend for vsock device: %v", err)
	}
	s.vsock = v
	return nil
}

func (s *Server) putLogger(body []byte) error {
	if s.loggerSet {
		return faultf("Reinitialization of logger not allowed.")
	}
	fields, err := defLogger.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if p, ok := fields["log_path"].(string); ok {
		f, err := openExisting(s.hostPath(p))
		if err != nil {
			return faultf("Failed to open target file %s: %v", p, err)
		}
		s.logFile = f
		s.logLine("Stand-in API server: logger configured")
	}
	s.loggerSet = true
	return nil
}

func (s *Server) putMetrics(body []byte) error {
	if s.metricsSet {
		return faultf("Reinitialization of metrics not allowed.")
	}
	fields, err := defMetrics.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	p := fields["metrics_path"].(string)
	f, err := openExisting(s.hostPath(p))
	if err != nil {
		return faultf("Failed to open target file %s: %v", p, err)
	}
	s.metrics = f
	s.metricsSet = true
	return nil
}

func (s *Server) putAction(body []byte) error {
	fields, err := defInstanceActionInfo.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	switch firecracker.ActionType(fields["action_type"].(string)) {
	case firecracker.ActionInstanceStart:
		if s.started() {
			return faultf("The requested operation is not supported after starting the microVM: InstanceStart")
		}
		if s.bootSource == nil {
			return faultf("Cannot start microvm without kernel configuration.")
		}
		s.state = firecracker.StateRunning
		s.logLine("Stand-in API server: instance started")
		s.flushMetrics()
	case firecracker.ActionSendCtrlAltDel:
		if s.opts.Arch == "riscv64" {
			return faultf("SendCtrlAltDel is not supported on riscv64")
		}
		if err := s.postBoot("SendCtrlAltDel"); err != nil {
			return err
		}
		if s.opts.OnShutdown != nil {
			go s.opts.OnShutdown()
		}
	case firecracker.ActionFlushMetrics:
		if err := s.postBoot("FlushMetrics"); err != nil {
			return err
		}
		if !s.metricsSet {
			return faultf("Metrics system is not initialized.")
		}
		s.flushMetrics()
	}
	return nil
}

func (s *Server) patchVM(body []byte) error {
	if err := s.postBoot("PATCH /vm"); err != nil {
		return err
	}
	fields, err := defVM.validate(body)
	if err != nil {
		return errFault{err.Error()}
	}
	if firecracker.VMState(fields["state"].(string)) == firecracker.VMPaused {
		s.state = firecracker.StatePaused
	} else {
		s.state = firecracker.StateRunning
	}
	return nil
}

// logLine writes one line to the configured log, in Firecracker's layout
// ("<timestamp> [<id>:main] <message>").
func (s *Server) logLine(msg string) {
	if s.logFile == nil {
		return
	}
	_, _ = fmt.Fprintf(s.logFile, "%s [%s:main] %s\n", time.Now().UTC().Format(time.RFC3339Nano), s.opts.ID, msg)
}

// flushMetrics writes one JSON metrics object, as Firecracker does at each
// flush. It carries only a timestamp and the stand-in's request count.
func (s *Server) flushMetrics() {
	if s.metrics == nil {
		return
	}
	line, _ := json.Marshal(map[string]any{
		"utc_timestamp_ms": time.Now().UnixMilli(),
		"api_server":       map[string]any{"requests": len(s.requests) + 1},
	})
	_, _ = fmt.Fprintf(s.metrics, "%s\n", line)
}

// openExisting opens a file or named pipe for writing without creating it,
// as Firecracker opens log and metrics paths. A named pipe without a reader
// fails with ENXIO instead of blocking.
func openExisting(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_WRONLY|os.O_APPEND|syscall.O_NONBLOCK, 0)
}
