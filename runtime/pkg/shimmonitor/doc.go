// Package shimmonitor is the shim's monitor endpoint: an HTTP server on a Unix
// socket at <sandboxes dir>/<sandbox id>/shim-monitor.sock that kata-monitor
// scrapes. The production sandboxes directory is /run/vc/sbs, the same place
// upstream Kata's Go shim uses, so upstream's kata-monitor can scrape this
// shim and ours can scrape upstream's.
//
// Endpoints:
//
//	/metrics        Prometheus text: the shim process, the hypervisor
//	                processes and the agent's GetMetrics output
//	/agent-url      the agent URL as plain text
//	/debug/vars     expvar, only when pprof is enabled
//	/debug/pprof/   net/http/pprof, only when pprof is enabled
//
// Metric names on this socket follow upstream Kata's shim. The Go and process
// collectors of client_golang report unprefixed go_* and process_* families,
// which kata-monitor renames to kata_shim_go_* and kata_shim_process_*. The
// shim's /proc figures are kata_shim_* and the hypervisor's are
// kata_hypervisor_*. The agent's go_* and process_* families become
// kata_agent_*, and agent families that already carry a prefix (kata_agent_*,
// kata_guest_*) pass through unchanged with their labels.
package shimmonitor

// SocketName is the file name of the monitor socket inside a sandbox's
// directory.
const SocketName = "shim-monitor.sock"

// Endpoint paths served on the monitor socket.
const (
	MetricsPath  = "/metrics"
	AgentURLPath = "/agent-url"
	PprofPath    = "/debug/pprof/"
	ExpvarPath   = "/debug/vars"
)
