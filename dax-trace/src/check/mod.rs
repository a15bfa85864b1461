//! `daxtrace check`: judges collector state against the assertions CI cares
//! about (claim/release balance, waits, stuck waits, dropped events) and
//! renders the verdict as text, JSON, JUnit XML or a node_exporter textfile.
//! Documented in docs/check.md.
mod assertions;
pub mod dax_mode;
mod orphans;
mod pins;
mod pre_existing;
pub mod render;
pub mod session;
pub mod textfile;
mod verdict;

pub use render::Format;
pub use verdict::{Assertion, Outcome, Scope, Status, Verdict};

use crate::collector::{Collector, CollectorConfig, DeviceIdentity};
use crate::event::Dev;
use crate::human::time::{TimeBase, Timeline};
use crate::stacks::StackTable;

/// What to assert, from the command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Fail on any busy-page wait at least this long (`--max-wait MS`).
    pub max_wait_ns: Option<u64>,
    /// Judge only these devices: disk names (`pmem0`) or `MAJ:MIN` (`--dev`).
    pub devices: Vec<String>,
    /// The clock event times are printed in (`--time`).
    pub time: TimeBase,
    /// CLOCK_REALTIME - CLOCK_MONOTONIC of the trace (for `--time wall`).
    pub mono_to_wall_ns: i128,
}

impl CheckOptions {
    /// The collector settings the assertions need (slow-wait threshold, and
    /// enough examples to list every violation of a realistic run).
    pub fn collector_config(&self) -> CollectorConfig {
        CollectorConfig {
            slow_wait_ns: self.max_wait_ns,
            examples: 1024,
            ..CollectorConfig::default()
        }
    }

    /// How event times of `collector`'s trace are printed.
    fn timeline(&self, collector: &Collector) -> Timeline {
        Timeline::new(
            self.time,
            collector.totals().first_ts_ns.unwrap_or(0),
            self.mono_to_wall_ns,
        )
    }

    /// True when a finding about this device (or, with no record, this
    /// `dev_t`) is in scope.
    fn selects(&self, identity: Option<&DeviceIdentity>, dev: Option<Dev>) -> bool {
        if self.devices.is_empty() {
            return true;
        }
        self.devices.iter().any(|f| {
            identity.is_some_and(|i| i.matches(f))
                || dev.is_some_and(|d| d.0 != 0 && d.to_string() == *f)
        })
    }
}

/// Judges the state of `collector` (fed with the whole trace) under `opts`.
/// `source` names what was judged (a file path, or `live`).
pub fn judge(collector: &Collector, opts: &CheckOptions, source: &str) -> Verdict {
    judge_with_stacks(collector, opts, source, None)
}

/// [`judge`], naming page owners with their kernel stacks from `stacks`.
pub fn judge_with_stacks(
    collector: &Collector,
    opts: &CheckOptions,
    source: &str,
    stacks: Option<&StackTable>,
) -> Verdict {
    let totals = collector.totals();
    let mut verdict = Verdict {
        outcome: Outcome::Pass,
        scope: Scope {
            source: source.to_string(),
            events: totals.events,
            span_ns: totals.span_ns(),
            devices: collector.devices().count(),
            pagemaps: collector.pagemaps().count(),
            filters: opts.devices.clone(),
        },
        assertions: assertions::all(collector, opts, stacks),
        notes: collector
            .state_at_start()
            .map(pre_existing::note)
            .into_iter()
            .collect(),
        pre_existing: pre_existing::lines(collector, opts),
        notices: pins::notices(collector, stacks),
    };
    if !opts.devices.is_empty() {
        let missing: Vec<String> = opts
            .devices
            .iter()
            .filter(|f| collector.device_by_name(f).is_none())
            .map(|f| format!("device {f} does not appear in the trace"))
            .collect();
        verdict.push(Assertion {
            id: "devices-present".to_string(),
            title: "every --dev device appears in the trace".to_string(),
            status: if missing.is_empty() {
                Status::Pass
            } else {
                Status::Inconclusive
            },
            details: missing,
        });
    } else {
        verdict.push(Assertion {
            id: "events-seen".to_string(),
            title: "the trace holds events".to_string(),
            status: if totals.events > 0 {
                Status::Pass
            } else {
                Status::Inconclusive
            },
            details: if totals.events > 0 {
                Vec::new()
            } else {
                vec!["no event at all: nothing to judge".to_string()]
            },
        });
    }
    verdict
}

#[cfg(test)]
mod tests;
