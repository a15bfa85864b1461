//! One line of `target/bench/overhead.json`: the results of one workload on
//! one kernel, as [`super::table`] computes them.
use serde::{Deserialize, Serialize};

use super::goals::Goals;

/// One BPF program of daxtrace over the attribution windows of all rounds.
/// Under the instruction clock the kernel's run time counts instructions:
/// `insns` is filled, `ns` under the other clocks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BpfProgram {
    /// The program's name as kallsyms shows it (`bpf_prog_TAG_NAME`).
    pub name: String,
    pub runs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns: Option<u64>,
    /// Runs per operation of the workload.
    pub runs_per_op: Option<f64>,
    /// `insns` (or `ns`) per operation of the workload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insns_per_op: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_per_op: Option<f64>,
}

/// One line of overhead.json. Throughputs are medians over rounds; every
/// `*_ratio` is the median over rounds of (that run / the mean of the same
/// round's untraced A/A pair).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Row {
    pub kernel: String,
    pub release: String,
    pub workload: String,
    pub metric: String,
    /// The guest's clock: `icount` (QEMU's instruction clock: throughput
    /// counts instructions), `tcg` (host time) or `kvm`.
    pub clock: String,
    /// Median over rounds of the mean of the A/A pair.
    pub untraced: Option<f64>,
    /// Largest over rounds of |A - B| / mean(A, B): the noise floor.
    pub aa_spread: Option<f64>,
    pub daxtrace: Option<f64>,
    pub bpftrace: Option<f64>,
    pub owners_bpftrace: Option<f64>,
    pub empty_fexit: Option<f64>,
    pub serve: Option<f64>,
    pub after: Option<f64>,
    pub daxtrace_ratio: Option<f64>,
    /// bpftrace counting calls (the count-only script).
    pub bpftrace_ratio: Option<f64>,
    /// bpftrace doing the pin-owner attribution daxtrace does.
    pub owners_bpftrace_ratio: Option<f64>,
    /// One empty fexit on each gup entry point: the floor of any gup tracer.
    pub empty_fexit_ratio: Option<f64>,
    /// `daxtrace serve`, scraped once per window.
    pub serve_ratio: Option<f64>,
    /// Untraced after all tracers of the round: must be back at 1.
    pub after_ratio: Option<f64>,
    /// Events reaching userspace per second of workload (median, daxtrace).
    pub events_per_s: Option<f64>,
    /// Ring-buffer drops over all daxtrace windows, every point.
    pub drops: Option<u64>,
    /// Of those, drops at claim/release/busy-page/wait/stuck-wait points.
    pub critical_drops: Option<u64>,
    pub stuck_waits: Option<u64>,
    /// daxtrace's BPF run time per operation of the workload in its
    /// attribution windows (median over rounds): instructions under the
    /// instruction clock (`bpf_insns_per_op`), nanoseconds otherwise.
    pub bpf_insns_per_op: Option<f64>,
    pub bpf_ns_per_op: Option<f64>,
    /// Per daxtrace program, most expensive first.
    pub bpf_programs: Vec<BpfProgram>,
    /// daxtrace record's CPU seconds per window (median), to attach
    /// (median) and its peak RSS (max); the same for the others.
    pub cpu_s: Option<f64>,
    pub startup_cpu_s: Option<f64>,
    pub max_rss_bytes: Option<u64>,
    pub bpftrace_cpu_s: Option<f64>,
    pub bpftrace_startup_cpu_s: Option<f64>,
    pub bpftrace_max_rss_bytes: Option<u64>,
    pub owners_bpftrace_cpu_s: Option<f64>,
    pub owners_bpftrace_startup_cpu_s: Option<f64>,
    pub owners_bpftrace_max_rss_bytes: Option<u64>,
    pub serve_cpu_s: Option<f64>,
    pub serve_max_rss_bytes: Option<u64>,
    /// `record --no-stacks` and `--no-pins` (only on the workloads that ran
    /// them, null elsewhere): median throughput and ratio, recorder CPU s.
    pub daxtrace_no_stacks: Option<f64>,
    pub daxtrace_no_stacks_ratio: Option<f64>,
    pub daxtrace_no_stacks_cpu_s: Option<f64>,
    pub daxtrace_no_pins: Option<f64>,
    pub daxtrace_no_pins_ratio: Option<f64>,
    pub daxtrace_no_pins_cpu_s: Option<f64>,
    /// Rounds where every configuration the workload ran under produced a throughput.
    pub complete_rounds: usize,
    /// The goals of docs/performance.md, judged on this row (reported, never asserted).
    pub goals: Goals,
    pub notes: Vec<String>,
}
