package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// maxFailures is the number of failed runs after which a mode gives up,
// because a broken setup fails every run and each failure can take minutes.
const maxFailures = 3

// session is the state of one benchmark invocation.
type session struct {
	opts    Options
	assets  assets
	dir     string
	prefix  string // makes sandbox ids unique on the host, see newSession
	stack   *stack
	bare    *bareBooter
	results *Results
}

// Run measures the modes with a non-zero run count in o: bare boots and cold
// runs interleaved, so that both see the same load, then the warm runs. It
// removes every sandbox, VM and containerd it started before it returns,
// also when ctx is cancelled.
func Run(ctx context.Context, o Options) (res *Results, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	a, err := findAssets(o)
	if err != nil {
		return nil, err
	}

	s, err := newSession(o, a)
	if err != nil {
		return nil, err
	}
	defer func() {
		err = errors.Join(err, s.close())
	}()

	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	s.results.Host = describeHost(ctx, o, a)

	if err := s.runBareAndCold(ctx); err != nil {
		return s.finish(), err
	}
	if err := s.runWarm(ctx); err != nil {
		return s.finish(), err
	}
	return s.finish(), nil
}

func newSession(o Options, a assets) (*session, error) {
	dir, err := os.MkdirTemp("", "kata-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating the session directory: %w", err)
	}

	// The shim keeps sandbox state under /run/vc/sbs/<id>, shared by every
	// containerd on the host, so the ids carry a random session prefix.
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &session{
		opts:    o,
		assets:  a,
		dir:     dir,
		prefix:  "bench-" + hex.EncodeToString(b[:]),
		results: &Results{Started: time.Now().UTC().Format(time.RFC3339), ShimRSSTargetKiB: TargetShimRSSKiB},
	}, nil
}

// prepare writes the Kata configuration and the container rootfs, and
// starts containerd and the bare booter as the modes need them.
func (s *session) prepare(ctx context.Context) error {
	kataConfig := filepath.Join(s.dir, "configuration.toml")
	if err := writeKataConfig(s.opts, kataConfig); err != nil {
		return err
	}

	if s.opts.BareRuns > 0 {
		b, err := newBareBooter(kataConfig, filepath.Join(s.dir, "vm"), s.opts)
		if err != nil {
			return err
		}
		s.bare = b
	}

	if s.opts.ColdRuns == 0 && s.opts.WarmRuns == 0 {
		return nil
	}
	rootfs := filepath.Join(s.dir, "rootfs")
	if err := writeRootfs(rootfs, s.assets.guestProg); err != nil {
		return err
	}
	st, err := startStack(ctx, s.assets, s.dir, kataConfig, rootfs)
	if err != nil {
		return err
	}
	s.stack = st
	return nil
}

// writeRootfs creates a container rootfs holding only benchguest and the
// mount points crun needs.
func writeRootfs(rootfs, guestProg string) error {
	for _, d := range []string{"proc", "sys", "dev", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return fmt.Errorf("creating the container rootfs: %w", err)
		}
	}
	data, err := os.ReadFile(guestProg)
	if err != nil {
		return fmt.Errorf("reading %s: %w; run 'make build'", guestProg, err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "benchguest"), data, 0o755); err != nil {
		return fmt.Errorf("writing the container rootfs: %w", err)
	}
	return nil
}

// close removes the session's containers, stops containerd and removes the
// session directory.
func (s *session) close() error {
	var errs []error
	if s.stack != nil {
		if err := s.stack.removeAll(); err != nil {
			errs = append(errs, fmt.Errorf("removing the benchmark's containers: %w; look for leftovers with 'ctr --address %s --namespace %s container list'", err, s.stack.address, namespace))
		}
		s.stack.stop()
		if err := s.stopLingeringShims(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing the session directory: %w", err))
		}
	} else {
		s.opts.Log.WithField("path", s.dir).Warn("keeping the session directory, which holds the containerd log, because the cleanup failed")
	}
	return errors.Join(errs...)
}

// stopLingeringShims waits for the shims of the session's containerd to
// exit, then kills those that still run without a VM. A shim whose VM still
// runs is reported, not killed, because killing it would orphan QEMU.
//
// A shim whose Create is interrupted (ctr killed by Ctrl-C during the
// sandbox start) cancels the start when containerd deletes the task, so it
// exits within seconds. The kill is for a shim that hangs all the same.
func (s *session) stopLingeringShims() error {
	pids := waitShimsGone("/proc", s.stack.address, shimExitTimeout)
	var errs []error
	for _, pid := range pids {
		log := s.opts.Log.WithField("pid", pid)
		if qemu, err := findChild("/proc", pid, "qemu-system"); err == nil {
			errs = append(errs, fmt.Errorf("shim %d still runs with its QEMU %d %v after its sandbox was deleted; stop the VM with 'containerd-shim-kata-v2 delete' or kill %d", pid, qemu, shimExitTimeout, qemu))
			continue
		}
		log.Warn("shim still runs without a VM after its sandbox was deleted; killing it")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("killing the lingering shim %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}

// finish summarises the modes and the ratio and records the end of the
// session.
func (s *session) finish() *Results {
	for _, m := range s.results.Modes {
		m.summarize()
	}
	s.results.computeRatios()
	s.results.Finished = time.Now().UTC().Format(time.RFC3339)
	s.results.Host.LoadEnd = loadAverage()
	return s.results
}

func (s *session) progress(format string, args ...any) {
	fmt.Fprintf(s.opts.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// failed records a failed run of m and returns an error once the mode has
// failed too often to go on.
func (s *session) failed(m *Mode, run int, err error) error {
	m.Failures = append(m.Failures, fmt.Sprintf("run %d: %v", run, err))
	s.progress("%s %d FAILED: %v", m.Name, run, err)
	if len(m.Failures) >= maxFailures {
		return fmt.Errorf("%s: %d runs failed, giving up; the last: %w", m.Name, len(m.Failures), err)
	}
	return nil
}
