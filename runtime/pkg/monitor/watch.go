package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/shimmonitor"
	"github.com/sirupsen/logrus"
)

// errDirGone reports that the sandboxes directory was removed or moved.
var errDirGone = errors.New("sandboxes directory removed")

// watch keeps m.sandboxes in step with the sandboxes directory until ctx is
// done. It watches the directory and every sandbox directory in it with
// inotify, because a shim creates its sandbox directory first and its socket
// later. A missing directory is looked for every DirRetryInterval.
func (m *Monitor) watch(ctx context.Context) error {
	log := m.log.WithField("subsystem", "sandbox-watcher")
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("starting the inotify watcher for %s: %w", m.cfg.SandboxesDir, err)
	}
	defer func() { _ = watcher.Close() }()

	for {
		if err := m.waitForDir(ctx, watcher, log); err != nil {
			return err
		}
		m.rescan(watcher, log)

		err := m.handleEvents(ctx, watcher, log)
		if ctx.Err() != nil {
			return nil
		}
		log.WithError(err).Warn("sandboxes directory gone: dropping all sandboxes and waiting for it")
		_ = watcher.Remove(m.cfg.SandboxesDir)
		m.sandboxes.clear()
	}
}

// waitForDir adds the inotify watch on the sandboxes directory, retrying
// until the directory exists. It logs the first failure and then only
// failures that differ from the previous one.
func (m *Monitor) waitForDir(ctx context.Context, watcher *fsnotify.Watcher, log *logrus.Entry) error {
	var lastErr string
	for {
		err := watcher.Add(m.cfg.SandboxesDir)
		if err == nil {
			log.WithField("dir", m.cfg.SandboxesDir).Info("watching the sandboxes directory")
			return nil
		}
		if err.Error() != lastErr {
			lastErr = err.Error()
			log.WithError(err).WithField("retry_interval", m.cfg.DirRetryInterval).
				Warn("cannot watch the sandboxes directory yet; it appears when the first sandbox starts")
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(m.cfg.DirRetryInterval):
		}
	}
}

// rescan reads the sandboxes directory and brings the set up to date, after
// the watch was (re)established or inotify's queue overflowed.
func (m *Monitor) rescan(watcher *fsnotify.Watcher, log *logrus.Entry) {
	entries, err := os.ReadDir(m.cfg.SandboxesDir)
	if err != nil {
		log.WithError(err).Warn("reading the sandboxes directory failed; relying on inotify events")
		return
	}

	present := make(map[string]bool)
	for _, e := range entries {
		if e.IsDir() {
			present[e.Name()] = true
			m.refreshSandbox(watcher, e.Name(), log)
		}
	}
	for _, id := range m.sandboxes.ids() {
		if !present[id] {
			m.dropSandbox(id, log)
		}
	}
}

// handleEvents applies inotify events until ctx is done or the sandboxes
// directory goes away. Each event only names what to look at again: the
// state is read back from the file system, so the order and kind of events
// do not matter.
//
// The directory is also checked every DirRetryInterval, because inotify
// reports a deleted directory only once nothing holds its inode, and a shim's
// listening socket bound inside it does.
func (m *Monitor) handleEvents(ctx context.Context, watcher *fsnotify.Watcher, log *logrus.Entry) error {
	root := filepath.Clean(m.cfg.SandboxesDir)
	watched, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("%w: %w", errDirGone, err)
	}
	check := time.NewTicker(m.cfg.DirRetryInterval)
	defer check.Stop()

	for {
		select {
		case <-ctx.Done():
			return ctx.Err()

		case <-check.C:
			now, err := os.Stat(root)
			if err != nil {
				return fmt.Errorf("%w: %w", errDirGone, err)
			}
			if !os.SameFile(now, watched) {
				return fmt.Errorf("%w: replaced by another directory", errDirGone)
			}

		case err, ok := <-watcher.Errors:
			if !ok {
				return errors.New("inotify watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				log.WithError(err).Warn("inotify events lost; rescanning the sandboxes directory")
				m.rescan(watcher, log)
				continue
			}
			log.WithError(err).Warn("inotify watcher error")

		case ev, ok := <-watcher.Events:
			if !ok {
				return errors.New("inotify watcher closed")
			}
			name := filepath.Clean(ev.Name)
			parent := filepath.Dir(name)
			switch {
			case name == root:
				if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
					return errDirGone
				}
			case parent == root:
				m.refreshSandbox(watcher, filepath.Base(name), log)
			case filepath.Dir(parent) == root && filepath.Base(name) == shimmonitor.SocketName:
				m.refreshSandbox(watcher, filepath.Base(parent), log)
			}
		}
	}
}

// refreshSandbox reads sandbox id's directory and socket back from the file
// system and updates the set.
func (m *Monitor) refreshSandbox(watcher *fsnotify.Watcher, id string, log *logrus.Entry) {
	dir := filepath.Join(m.cfg.SandboxesDir, id)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		m.dropSandbox(id, log)
		return
	}

	if m.sandboxes.addDir(id) {
		// Watch before looking for the socket, so a socket created in
		// between is seen either here or as an event.
		if err := watcher.Add(dir); err != nil {
			log.WithError(err).WithField("sandbox", id).Warn("cannot watch the sandbox directory; its socket is looked for only on rescans")
		}
		log.WithField("sandbox", id).Debug("sandbox directory found")
	}

	sock, err := os.Stat(shimmonitor.SocketPath(m.cfg.SandboxesDir, id))
	exists := err == nil && sock.Mode().Type() == os.ModeSocket
	if m.sandboxes.setSocket(id, exists) {
		log.WithField("sandbox", id).Info("sandbox added")
		if m.pods != nil {
			m.pods.refreshSoon(id)
		}
	}
}

func (m *Monitor) dropSandbox(id string, log *logrus.Entry) {
	if m.sandboxes.remove(id) {
		log.WithField("sandbox", id).Info("sandbox removed")
	}
}
