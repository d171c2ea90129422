package run

import (
	"time"

	"github.com/kata-riscv64/kata-riscv64/tools/bench/stats"
)

// Targets the runtime is measured against.
const (
	// TargetColdBareRatio bounds the cold start (ctr start to the first
	// output line) as a multiple of the bare boot to agent-ready, both at p50.
	TargetColdBareRatio = 1.10
	// TargetShimRSSKiB bounds the shim's resident set while a sandbox runs.
	TargetShimRSSKiB = 25 * 1024
)

// Metric is the samples of one measured quantity and their summary.
type Metric struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Samples     []time.Duration `json:"samples_ns"`
	Summary     stats.Summary   `json:"summary"`
}

// Mode is the result of one benchmark mode: bare, cold or warm.
type Mode struct {
	Name     string   `json:"name"`
	Runs     int      `json:"runs"`
	Failures []string `json:"failures,omitempty"`
	Metrics  []Metric `json:"metrics"`
}

func (m *Mode) metric(name string) *Metric {
	for i := range m.Metrics {
		if m.Metrics[i].Name == name {
			return &m.Metrics[i]
		}
	}
	return nil
}

func (m *Mode) add(name string, d time.Duration) {
	if mt := m.metric(name); mt != nil {
		mt.Samples = append(mt.Samples, d)
	}
}

func (m *Mode) summarize() {
	for i := range m.Metrics {
		m.Metrics[i].Summary = stats.Summarize(m.Metrics[i].Samples)
	}
}

// Metric names.
const (
	metricStarted     = "vm_started"
	metricAgentReady  = "agent_ready"
	metricStop        = "vm_stop"
	metricFirstOutput = "client_first_output"
	metricShimOutput  = "shim_create_to_first_output"
	metricExit        = "client_exit"
	metricUptime      = "guest_uptime"
	metricAge         = "guest_process_age"
)

func newBareMode() *Mode {
	return &Mode{Name: "bare", Metrics: []Metric{
		{Name: metricAgentReady, Description: "StartVM call to the agent's first SERVING Health Check"},
		{Name: metricStarted, Description: "StartVM call to QEMU reporting the guest running over QMP"},
		{Name: metricStop, Description: "StopVM"},
	}}
}

func newColdMode() *Mode {
	return &Mode{Name: "cold", Metrics: []Metric{
		{Name: metricFirstOutput, Description: "ctr run --rm start to the container's first output line"},
		{Name: metricExit, Description: "ctr run --rm start to ctr's exit, sandbox teardown included"},
		{Name: metricShimOutput, Description: "the shim's Create (its log line) to the container's first output line at the client"},
		{Name: metricUptime, Description: "in the guest: kernel start to the container process's output (CLOCK_BOOTTIME)"},
		{Name: metricAge, Description: "in the guest: the container process's start to its output (10 ms resolution)"},
	}}
}

func newWarmMode() *Mode {
	return &Mode{Name: "warm", Metrics: []Metric{
		{Name: metricFirstOutput, Description: "ctr task exec start to the exec'd process's first output line"},
		{Name: metricExit, Description: "ctr task exec start to ctr's exit"},
		{Name: metricAge, Description: "in the guest: the exec'd process's start to its output (10 ms resolution)"},
	}}
}

// Memory holds the resident sets measured during the session.
type Memory struct {
	// Shim is the shim of the warm sandbox, read after the last exec.
	Shim *memory `json:"shim,omitempty"`
	// SandboxQEMU is the QEMU of the warm sandbox, read with Shim.
	SandboxQEMU *memory `json:"sandbox_qemu,omitempty"`
	// BareQEMURSSKiB is the largest QEMU VmRSS seen at agent-ready in the
	// bare boots.
	BareQEMURSSKiB uint64 `json:"bare_qemu_max_rss_kib,omitempty"`
}

// Ratios compares the cold start with the bare boot.
type Ratios struct {
	// ColdBareP50 is cold client_first_output p50 over bare agent_ready p50.
	ColdBareP50 float64 `json:"cold_over_bare_p50"`
	ColdBareP90 float64 `json:"cold_over_bare_p90"`
	// ShimBareP50 is cold shim_create_to_first_output p50 over bare
	// agent_ready p50: the runtime's share without ctr and containerd.
	ShimBareP50 float64 `json:"shim_cold_over_bare_p50,omitempty"`
	ShimBareP90 float64 `json:"shim_cold_over_bare_p90,omitempty"`
	Target      float64 `json:"target"`
}

// Results is everything a session measured, as written to results.json.
type Results struct {
	Host     Host    `json:"host"`
	Started  string  `json:"started"`
	Finished string  `json:"finished"`
	Modes    []*Mode `json:"modes"`
	Memory   Memory  `json:"memory"`
	Ratios   *Ratios `json:"ratios,omitempty"`
	// ShimRSSTargetKiB is the shim RSS target, for readers of the JSON.
	ShimRSSTargetKiB uint64 `json:"shim_rss_target_kib"`
}

func (r *Results) mode(name string) *Mode {
	for _, m := range r.Modes {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// computeRatios sets Ratios when both the bare and the cold mode have samples.
func (r *Results) computeRatios() {
	bare, cold := r.mode("bare"), r.mode("cold")
	if bare == nil || cold == nil {
		return
	}
	b, c := bare.metric(metricAgentReady), cold.metric(metricFirstOutput)
	if b.Summary.Count == 0 || c.Summary.Count == 0 {
		return
	}
	r.Ratios = &Ratios{
		ColdBareP50: stats.Ratio(c.Summary.P50, b.Summary.P50),
		ColdBareP90: stats.Ratio(c.Summary.P90, b.Summary.P90),
		Target:      TargetColdBareRatio,
	}
	if sh := cold.metric(metricShimOutput); sh != nil && sh.Summary.Count > 0 {
		r.Ratios.ShimBareP50 = stats.Ratio(sh.Summary.P50, b.Summary.P50)
		r.Ratios.ShimBareP90 = stats.Ratio(sh.Summary.P90, b.Summary.P90)
	}
}
