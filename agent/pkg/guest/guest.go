// Package guest reads and changes guest-wide state through sysfs: memory
// block size, CPU and memory online state, memory probing, and the clock.
package guest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
)

// Sysfs is the sysfs mount, /sys in the guest; tests point it at a fixture.
type Sysfs string

// onlineRetryInterval paces OnlineCPUs while it waits for hot-plugged CPUs.
const onlineRetryInterval = 50 * time.Millisecond

// MemBlockSize returns the memory block size for hotplug alignment, from
// devices/system/memory/block_size_bytes (hexadecimal); 0 when the kernel
// has no memory hotplug.
func (s Sysfs) MemBlockSize() (uint64, error) {
	path := filepath.Join(string(s), "devices/system/memory/block_size_bytes")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid memory block size %q in %s: %w", data, path, err)
	}
	return v, nil
}

// MemHotplugProbe reports whether the kernel accepts memory probing through
// devices/system/memory/probe.
func (s Sysfs) MemHotplugProbe() bool {
	_, err := os.Stat(filepath.Join(string(s), "devices/system/memory/probe"))
	return err == nil
}

// ProbeMemory announces hot-added memory at each physical address.
func (s Sysfs) ProbeMemory(addresses []uint64) error {
	path := filepath.Join(string(s), "devices/system/memory/probe")
	for _, addr := range addresses {
		if err := os.WriteFile(path, []byte(fmt.Sprintf("%#x", addr)), 0o200); err != nil {
			return fmt.Errorf("probing memory at %#x through %s: %w", addr, path, err)
		}
	}
	return nil
}

var cpuDir = regexp.MustCompile(`^cpu[0-9]+$`)

// OnlineCPUs brings up to n offline CPUs online and returns how many it
// onlined. With wait set it retries until n are online or ctx ends, because
// hot-plugged CPUs appear in sysfs with a delay.
func (s Sysfs) OnlineCPUs(ctx context.Context, n int, wait bool) (int, error) {
	done := 0
	for {
		k, err := s.onlineOfflineCPUs(n - done)
		done += k
		if err != nil || done >= n || !wait {
			return done, err
		}
		select {
		case <-ctx.Done():
			return done, fmt.Errorf("onlined %d of %d CPUs: %w", done, n, ctx.Err())
		case <-time.After(onlineRetryInterval):
		}
	}
}

func (s Sysfs) onlineOfflineCPUs(max int) (int, error) {
	dir := filepath.Join(string(s), "devices/system/cpu")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("listing CPUs in %s: %w", dir, err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if cpuDir.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, _ := strconv.Atoi(names[i][3:])
		b, _ := strconv.Atoi(names[j][3:])
		return a < b
	})

	count := 0
	for _, name := range names {
		if count >= max {
			break
		}
		online := filepath.Join(dir, name, "online")
		data, err := os.ReadFile(online)
		if err != nil {
			// cpu0 often has no online file: it cannot go offline.
			continue
		}
		if strings.TrimSpace(string(data)) == "1" {
			continue
		}
		if err := os.WriteFile(online, []byte("1"), 0o644); err != nil {
			return count, fmt.Errorf("onlining %s: %w", name, err)
		}
		count++
	}
	return count, nil
}

// OnlineMemory brings every offline memory block online.
func (s Sysfs) OnlineMemory() error {
	dir := filepath.Join(string(s), "devices/system/memory")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing memory blocks in %s: %w", dir, err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "memory") {
			continue
		}
		state := filepath.Join(dir, e.Name(), "state")
		data, err := os.ReadFile(state)
		if err != nil || strings.TrimSpace(string(data)) != "offline" {
			continue
		}
		if err := os.WriteFile(state, []byte("online"), 0o644); err != nil {
			return fmt.Errorf("onlining %s: %w", e.Name(), err)
		}
	}
	return nil
}

// SetTime sets the guest clock, which has no battery-backed source of its own.
func SetTime(sec, usec int64) error {
	if usec < 0 || usec >= 1_000_000 || sec < 0 {
		return fmt.Errorf("invalid time %d s %d us: %w", sec, usec, errdefs.ErrInvalidArgument)
	}
	tv := unix.Timeval{Sec: sec, Usec: usec}
	if err := unix.Settimeofday(&tv); err != nil {
		return fmt.Errorf("setting the clock: %w", err)
	}
	return nil
}
