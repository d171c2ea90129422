// Command benchguest is the container process of tools/bench: a static
// riscv64 binary that needs no shell or libc in the container's rootfs, and
// prints one marker line with the guest's own view of time.
//
//	benchguest mark            prints the marker and exits
//	benchguest sleep SECONDS   sleeps, to keep a sandbox running
//
// The marker line is
//
//	BENCH-MARK uptime_ns=U age_ns=A
//
// where U is the guest's CLOCK_BOOTTIME (time since the guest kernel booted)
// and A is the time since the kernel started this process, from
// /proc/self/stat's starttime. The kernel counts starttime in clock ticks
// (USER_HZ, 100 on Linux), so A has a resolution of 10 ms.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of /proc/<pid>/stat's starttime; the kernel fixes it at
// 100 for user space on every architecture Linux supports.
const userHZ = 100

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchguest mark | sleep SECONDS")
		os.Exit(2)
	}

	switch os.Args[1] {
	case "mark":
		if err := mark(); err != nil {
			fmt.Fprintln(os.Stderr, "benchguest:", err)
			os.Exit(1)
		}
	case "sleep":
		if len(os.Args) < 3 {
			fmt.Fprintln(os.Stderr, "usage: benchguest sleep SECONDS")
			os.Exit(2)
		}
		s, err := strconv.Atoi(os.Args[2])
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchguest: invalid seconds %q: %v\n", os.Args[2], err)
			os.Exit(2)
		}
		time.Sleep(time.Duration(s) * time.Second)
	default:
		fmt.Fprintf(os.Stderr, "benchguest: unknown command %q: expected mark or sleep\n", os.Args[1])
		os.Exit(2)
	}
}

func mark() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return fmt.Errorf("reading CLOCK_BOOTTIME: %w", err)
	}
	uptime := time.Duration(ts.Nano())

	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return fmt.Errorf("reading the process start time: %w; the container needs /proc", err)
	}
	ticks, err := startTicks(string(stat))
	if err != nil {
		return err
	}
	started := time.Duration(ticks) * time.Second / userHZ

	fmt.Printf("BENCH-MARK uptime_ns=%d age_ns=%d\n", uptime.Nanoseconds(), (uptime - started).Nanoseconds())
	return nil
}

// startTicks returns field 22 of /proc/<pid>/stat, starttime. The fields are
// counted after the closing parenthesis of comm, because comm may contain
// spaces and parentheses.
func startTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("invalid /proc/self/stat %q: no ')' after comm", stat)
	}
	// After ")" come field 3 (state) onwards, so starttime is the 20th.
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("invalid /proc/self/stat %q: %d fields after comm, want at least 20", stat, len(fields))
	}
	v, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid starttime %q in /proc/self/stat: %w", fields[19], err)
	}
	return v, nil
}
