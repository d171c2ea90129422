package kmod

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// OnDemand loads listed kernel modules the first time a request needs them
// instead of at boot. Under TCG each module took 55 to 80 ms to load, and a
// sandbox on a 9p share and the serial channel never uses the block, ext4,
// network or vsock modules that the guest image lists.
//
// A nil *OnDemand loads nothing, for guests whose init system loads the
// modules (systemd-modules-load in image guests).
type OnDemand struct {
	load func(name string) error
	log  *logrus.Entry

	mu      sync.Mutex
	pending map[string]bool
}

// NewOnDemand returns an OnDemand that loads each of names with load the
// first time Need is called with it.
func NewOnDemand(load func(name string) error, names []string, log *logrus.Entry) *OnDemand {
	pending := make(map[string]bool, len(names))
	for _, n := range names {
		pending[canonicalName(n)] = true
	}
	return &OnDemand{load: load, log: log, pending: pending}
}

// Need loads those of names that are still pending, in order, and returns
// after they are loaded. Names it does not hold (built into the kernel,
// loaded already, or never listed) are skipped. A module that fails to load
// stays pending, so that a later request tries again.
func (d *OnDemand) Need(names ...string) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	var loaded []string
	start := time.Now()
	for _, n := range names {
		name := canonicalName(n)
		if !d.pending[name] {
			continue
		}
		if err := d.load(name); err != nil {
			return fmt.Errorf("loading kernel module %s on demand: %w", name, err)
		}
		delete(d.pending, name)
		loaded = append(loaded, name)
	}
	if len(loaded) > 0 {
		d.log.WithFields(logrus.Fields{"modules": loaded, "duration": time.Since(start)}).Info("kernel modules loaded on demand")
	}
	return nil
}

// Pending returns the modules not loaded yet, in name order, for logs.
func (d *OnDemand) Pending() []string {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	return slices.Sorted(maps.Keys(d.pending))
}

// canonicalName spells a module name with '_', as the kernel does for '-'.
func canonicalName(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}
