//! One line of `target/bench/overhead.json`: the results of one workload on
//! one kernel, as [`super::table`] computes them.
use serde::{Deserialize, Serialize};

/// One line of overhead.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub kernel: String,
    pub release: String,
    pub workload: String,
    pub metric: String,
    pub untraced: Option<f64>,
    pub daxtrace: Option<f64>,
    pub bpftrace: Option<f64>,
    /// Median over rounds of (daxtrace / untraced) of the same round.
    pub daxtrace_ratio: Option<f64>,
    pub bpftrace_ratio: Option<f64>,
    /// Events reaching userspace per second of workload (median, daxtrace).
    pub events_per_s: Option<f64>,
    /// Ring-buffer drops over all daxtrace rounds, every point.
    pub drops: Option<u64>,
    /// Of those, drops at claim/release/busy-page/wait/stuck-wait points.
    pub critical_drops: Option<u64>,
    /// daxtrace's own CPU seconds (median per run) and peak RSS (max).
    pub cpu_s: Option<f64>,
    pub max_rss_bytes: Option<u64>,
    /// CPU seconds to load and attach (median), daxtrace and bpftrace.
    pub startup_cpu_s: Option<f64>,
    pub bpftrace_startup_cpu_s: Option<f64>,
    pub bpftrace_cpu_s: Option<f64>,
    pub bpftrace_max_rss_bytes: Option<u64>,
    /// Rounds where every configuration the workload ran under produced a throughput.
    pub complete_rounds: usize,
    pub stuck_waits: Option<u64>,
    /// BPF run time per daxtrace program over all rounds: (name, runs, ns),
    /// most expensive first.
    #[serde(default)]
    pub bpf_programs: Vec<(String, u64, u64)>,
    pub notes: Vec<String>,
    /// BPF run time of all daxtrace programs per run (median, ns; needs
    /// kernel.bpf_stats_enabled), full daxtrace.
    #[serde(default)]
    pub bpf_run_ns: Option<f64>,
    /// BPF run time per operation of the workload (median over runs, ns):
    /// what the in-kernel programs add to each I/O or cycle.
    #[serde(default)]
    pub bpf_ns_per_op: Option<f64>,
    /// The same for bpftrace's programs.
    #[serde(default)]
    pub bpftrace_bpf_ns_per_op: Option<f64>,
    /// `record --no-stacks` and `record --no-pins` (O_DIRECT workloads
    /// only, null elsewhere): median throughput, median per-round ratio to
    /// untraced, recorder CPU s per run and BPF run time per run.
    #[serde(default)]
    pub daxtrace_no_stacks: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_stacks_ratio: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_stacks_cpu_s: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_stacks_bpf_run_ns: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_stacks_bpf_ns_per_op: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_pins: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_pins_ratio: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_pins_cpu_s: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_pins_bpf_run_ns: Option<f64>,
    #[serde(default)]
    pub daxtrace_no_pins_bpf_ns_per_op: Option<f64>,
}
