package shimmonitor

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/procfs"
)

// procCollector reports /proc/<pid>/{stat,status,io,fd} figures under
// upstream Kata's family names: <namespace>_threads, _fds, _proc_stat,
// _proc_status and _io_stat, the last three with an "item" label naming the
// field. Values keep procfs' units: proc_stat items are clock ticks,
// proc_status memory items are bytes.
type procCollector struct {
	fs procfs.FS
	// pids returns the processes to report, read on each collection.
	pids func() []int
	// perProcess adds "pid" and "comm" labels, because one namespace covers
	// several processes (the VMM and its helpers). It also adds the
	// process_cpu_seconds_total and process_resident_memory_bytes families,
	// which the shim itself gets from client_golang's process collector.
	perProcess bool

	threads, fds, procStat, procStatus, ioStat *prometheus.Desc
	cpuSeconds, residentBytes                  *prometheus.Desc
}

func newProcCollector(fs procfs.FS, namespace, what string, perProcess bool, pids func() []int) *procCollector {
	var labels []string
	if perProcess {
		labels = []string{"pid", "comm"}
	}
	item := append(append([]string(nil), labels...), "item")
	desc := func(name, help string, l []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, l, nil)
	}

	return &procCollector{
		fs:         fs,
		pids:       pids,
		perProcess: perProcess,

		threads:    desc("threads", what+" threads.", labels),
		fds:        desc("fds", what+" open file descriptors.", labels),
		procStat:   desc("proc_stat", what+" statistics from /proc/<pid>/stat, in clock ticks.", item),
		procStatus: desc("proc_status", what+" status from /proc/<pid>/status, memory in bytes.", item),
		ioStat:     desc("io_stat", what+" IO statistics from /proc/<pid>/io.", item),

		cpuSeconds:    desc("process_cpu_seconds_total", what+" user and system CPU time in seconds.", labels),
		residentBytes: desc("process_resident_memory_bytes", what+" resident memory size in bytes.", labels),
	}
}

// Describe implements prometheus.Collector.
func (c *procCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.threads, c.fds, c.procStat, c.procStatus, c.ioStat} {
		ch <- d
	}
	if c.perProcess {
		ch <- c.cpuSeconds
		ch <- c.residentBytes
	}
}

// Collect implements prometheus.Collector. A process that is gone or whose
// files cannot be read contributes what could be read; /proc/<pid>/io in
// particular needs ptrace access to the process.
func (c *procCollector) Collect(ch chan<- prometheus.Metric) {
	seen := make(map[int]bool)
	for _, pid := range c.pids() {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		c.collectPID(ch, pid)
	}
}

func (c *procCollector) collectPID(ch chan<- prometheus.Metric, pid int) {
	proc, err := c.fs.Proc(pid)
	if err != nil {
		return
	}
	stat, err := proc.Stat()
	if err != nil {
		return
	}

	var labels []string
	if c.perProcess {
		labels = []string{strconv.Itoa(pid), stat.Comm}
	}
	gauge := func(d *prometheus.Desc, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(append([]string(nil), labels...), extra...)...)
	}

	gauge(c.threads, float64(stat.NumThreads))
	gauge(c.procStat, float64(stat.UTime), "utime")
	gauge(c.procStat, float64(stat.STime), "stime")
	gauge(c.procStat, float64(stat.CUTime), "cutime")
	gauge(c.procStat, float64(stat.CSTime), "cstime")
	if c.perProcess {
		ch <- prometheus.MustNewConstMetric(c.cpuSeconds, prometheus.CounterValue, stat.CPUTime(), labels...)
		gauge(c.residentBytes, float64(stat.ResidentMemory()))
	}

	if n, err := proc.FileDescriptorsLen(); err == nil {
		gauge(c.fds, float64(n))
	}

	if st, err := proc.NewStatus(); err == nil {
		for _, kv := range []struct {
			item  string
			value uint64
		}{
			{"vmpeak", st.VmPeak}, {"vmsize", st.VmSize}, {"vmlck", st.VmLck}, {"vmpin", st.VmPin},
			{"vmhwm", st.VmHWM}, {"vmrss", st.VmRSS}, {"rssanon", st.RssAnon}, {"rssfile", st.RssFile},
			{"rssshmem", st.RssShmem}, {"vmdata", st.VmData}, {"vmstk", st.VmStk}, {"vmexe", st.VmExe},
			{"vmlib", st.VmLib}, {"vmpte", st.VmPTE}, {"vmpmd", st.VmPMD}, {"vmswap", st.VmSwap},
			{"hugetlbpages", st.HugetlbPages},
			{"voluntary_ctxt_switches", st.VoluntaryCtxtSwitches},
			{"nonvoluntary_ctxt_switches", st.NonVoluntaryCtxtSwitches},
		} {
			gauge(c.procStatus, float64(kv.value), kv.item)
		}
	}

	if io, err := proc.IO(); err == nil {
		for _, kv := range []struct {
			item  string
			value float64
		}{
			{"rchar", float64(io.RChar)}, {"wchar", float64(io.WChar)},
			{"syscr", float64(io.SyscR)}, {"syscw", float64(io.SyscW)},
			{"readbytes", float64(io.ReadBytes)}, {"writebytes", float64(io.WriteBytes)},
			{"cancelledwritebytes", float64(io.CancelledWriteBytes)},
		} {
			gauge(c.ioStat, kv.value, kv.item)
		}
	}
}
