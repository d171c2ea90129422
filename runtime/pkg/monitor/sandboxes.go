package monitor

import (
	"context"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	"golang.org/x/time/rate"
)

// shim is a sandbox whose monitor socket exists. It does not change after
// creation; a new socket gets a new shim.
type shim struct {
	id     string
	socket string
	// transport keeps a connection to the shim between scrapes.
	transport *http.Transport
	client    *http.Client
	// errorLog lets one scrape error a minute of this shim through to the
	// log.
	errorLog *rate.Sometimes
}

func newShim(id, socket string) *shim {
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		// Compressing on a local socket only costs CPU on both ends.
		DisableCompression: true,
	}
	return &shim{
		id:        id,
		socket:    socket,
		transport: transport,
		client:    &http.Client{Transport: transport},
		errorLog:  &rate.Sometimes{First: 1, Interval: time.Minute},
	}
}

// url returns the URL of path on the shim; the host name is a placeholder
// because the transport dials the socket.
func (s *shim) url(path string) string {
	return "http://shim" + path
}

// sandboxSet is the set of sandbox directories found and of the shims among
// them whose socket exists.
type sandboxSet struct {
	dir string

	mu sync.Mutex
	// dirs contains the ids of the sandbox directories found. Guarded by mu.
	dirs map[string]bool
	// byID contains the sandboxes whose monitor socket exists. Guarded by mu.
	byID map[string]*shim
}

func newSandboxSet(dir string) *sandboxSet {
	return &sandboxSet{dir: dir, dirs: make(map[string]bool), byID: make(map[string]*shim)}
}

// addDir records a sandbox directory and reports whether it is new.
func (s *sandboxSet) addDir(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dirs[id] {
		return false
	}
	s.dirs[id] = true
	return true
}

// setSocket records whether sandbox id's socket exists, and reports whether
// the sandbox became scrapable.
func (s *sandboxSet) setSocket(id string, exists bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	old, had := s.byID[id]
	switch {
	case exists && !had:
		s.byID[id] = newShim(id, shimmonitor.SocketPath(s.dir, id))
		return true
	case !exists && had:
		delete(s.byID, id)
		old.transport.CloseIdleConnections()
	}
	return false
}

// remove deletes sandbox id from the set and reports whether it was there.
func (s *sandboxSet) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	known := s.dirs[id]
	delete(s.dirs, id)
	if old, ok := s.byID[id]; ok {
		delete(s.byID, id)
		old.transport.CloseIdleConnections()
	}
	return known
}

// ids returns the ids of the sandbox directories found.
func (s *sandboxSet) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.dirs))
	for id := range s.dirs {
		out = append(out, id)
	}
	return out
}

// clear empties the set, as when the sandboxes directory goes away.
func (s *sandboxSet) clear() {
	for _, id := range s.ids() {
		s.remove(id)
	}
}

// shims returns the scrapable sandboxes sorted by id.
func (s *sandboxSet) shims() []*shim {
	s.mu.Lock()
	out := make([]*shim, 0, len(s.byID))
	for _, sh := range s.byID {
		out = append(out, sh)
	}
	s.mu.Unlock()

	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// shim returns the scrapable sandbox id.
func (s *sandboxSet) shim(id string) (*shim, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.byID[id]
	return sh, ok
}
