//! The exporter's self-metrics of its eBPF programs (docs/serve.md), as
//! ebpf_exporter and bpftop show them: runs and run time per program, read
//! from the kernel at scrape time, and whether the kernel counts them.
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::families::{Families, Labels, counters, gauges};
use crate::source::program_costs::ProgramCost;

type Fmt = Result<(), std::fmt::Error>;

/// The programs' figures of one scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProgramFigures {
    /// Whether the kernel counts program run time (`None`: cannot say).
    pub stats_enabled: Option<bool>,
    pub costs: Vec<ProgramCost>,
}

impl ProgramFigures {
    /// Read now; `costs` from the live capture's programs (none for a replay).
    pub fn read(costs: Vec<ProgramCost>) -> Self {
        Self {
            stats_enabled: crate::source::program_costs::stats_enabled(),
            costs,
        }
    }
}

impl Families {
    pub(super) fn program_families(&self, enc: &mut DescriptorEncoder) -> Fmt {
        let p = &self.programs;
        if let Some(on) = p.stats_enabled {
            gauges(
                enc,
                "daxtrace_program_stats_enabled",
                "1 while the kernel counts eBPF program runs and run time (kernel.bpf_stats_enabled, or serve --program-stats); the program counters stand still at 0.",
                None,
                std::iter::once((Labels::new(), u64::from(on))),
            )?;
        }
        let label = |c: &ProgramCost| -> Labels { vec![("program", c.program.clone())] };
        counters(
            enc,
            "daxtrace_program_runs",
            "Runs of each loaded eBPF program of the capture (counted while run-time statistics are on).",
            p.costs.iter().map(|c| (label(c), c.runs)),
        )?;
        let mut m = enc.encode_descriptor(
            "daxtrace_program_run_time",
            "Time spent in each loaded eBPF program of the capture (counted while run-time statistics are on).",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?;
        for c in &p.costs {
            let seconds = c.run_time_ns as f64 / 1e9;
            m.encode_family(&label(c))?
                .encode_counter::<NoLabelSet, _, f64>(&seconds, None)?;
        }
        Ok(())
    }
}
