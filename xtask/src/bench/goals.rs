//! The goals of docs/performance.md, judged per row: met, missed, or not
//! judged (a figure is missing, or the goal does not apply to the workload).
//! Reported in the table and the JSON, never asserted.
//!
//! A tracer's cost is `1 - ratio` (0 when the ratio is above 1). Where a
//! goal compares two costs, the A/A spread of the row is the tolerance: a
//! difference smaller than the noise floor cannot miss a goal.
use serde::{Deserialize, Serialize};

use super::config::CONTROLS;
use super::row::Row;

/// Each goal: Some(true) met, Some(false) missed, None not judged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Goals {
    /// daxtrace keeps >= 98% of untraced throughput.
    pub keeps_98: Option<bool>,
    /// The untraced A/A pair agrees within 0.5%.
    pub aa_spread_within_0_5: Option<bool>,
    /// On an ordinary-memory control, daxtrace costs at most 1.5 times
    /// what one empty fexit on the gup entry points costs.
    pub control_within_1_5x_empty_fexit: Option<bool>,
    /// daxtrace costs at most half of what bpftrace doing the same
    /// attribution costs.
    pub half_of_owners_bpftrace: Option<bool>,
    /// daxtrace costs at most what bpftrace counting calls costs.
    pub within_count_only_bpftrace: Option<bool>,
    /// `daxtrace serve` keeps >= 99%.
    pub serve_keeps_99: Option<bool>,
    /// Untraced again after the tracers: within the A/A spread (or 0.5%) of 1.
    pub after_at_baseline: Option<bool>,
}

/// The goals' names, in the order of the table's columns.
pub const NAMES: [&str; 7] = [
    "keeps >= 98%",
    "A/A <= 0.5%",
    "control <= 1.5x empty-fexit",
    "<= 1/2 of bpftrace-owners",
    "<= count-only bpftrace",
    "serve >= 99%",
    "after at baseline",
];

fn cost(ratio: f64) -> f64 {
    (1.0 - ratio).max(0.0)
}

/// `a`'s cost is at most `k` times `b`'s, within `noise`.
fn cost_within(a: Option<f64>, k: f64, b: Option<f64>, noise: f64) -> Option<bool> {
    Some(cost(a?) <= k * cost(b?) + noise)
}

impl Goals {
    pub fn judge(row: &Row) -> Goals {
        let noise = row.aa_spread.unwrap_or(0.0);
        let dax = row.daxtrace_ratio;
        Goals {
            keeps_98: dax.map(|r| r >= 0.98),
            aa_spread_within_0_5: row.aa_spread.map(|s| s <= 0.005),
            control_within_1_5x_empty_fexit: if CONTROLS.contains(&row.workload.as_str()) {
                cost_within(dax, 1.5, row.empty_fexit_ratio, noise)
            } else {
                None
            },
            half_of_owners_bpftrace: cost_within(dax, 0.5, row.owners_bpftrace_ratio, noise),
            within_count_only_bpftrace: cost_within(dax, 1.0, row.bpftrace_ratio, noise),
            serve_keeps_99: row.serve_ratio.map(|r| r >= 0.99),
            after_at_baseline: row.after_ratio.map(|r| (r - 1.0).abs() <= noise.max(0.005)),
        }
    }

    /// The verdicts in the order of [`NAMES`].
    pub fn verdicts(&self) -> [Option<bool>; 7] {
        [
            self.keeps_98,
            self.aa_spread_within_0_5,
            self.control_within_1_5x_empty_fexit,
            self.half_of_owners_bpftrace,
            self.within_count_only_bpftrace,
            self.serve_keeps_99,
            self.after_at_baseline,
        ]
    }
}

pub fn verdict(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "met",
        Some(false) => "missed",
        None => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(workload: &str) -> Row {
        Row {
            workload: workload.into(),
            aa_spread: Some(0.001),
            daxtrace_ratio: Some(0.97),
            bpftrace_ratio: Some(0.96),
            owners_bpftrace_ratio: Some(0.95),
            empty_fexit_ratio: Some(0.98),
            serve_ratio: Some(0.995),
            after_ratio: Some(1.004),
            ..Row::default()
        }
    }

    #[test]
    fn costs_are_compared_within_the_noise_floor() {
        let g = Goals::judge(&row("dio-anon"));
        assert_eq!(g.keeps_98, Some(false));
        assert_eq!(g.aa_spread_within_0_5, Some(true));
        // 3% against 1.5 x 2% + 0.1%: met.
        assert_eq!(g.control_within_1_5x_empty_fexit, Some(true));
        // 3% against 0.5 x 5% + 0.1%: missed.
        assert_eq!(g.half_of_owners_bpftrace, Some(false));
        assert_eq!(g.within_count_only_bpftrace, Some(true));
        assert_eq!(g.serve_keeps_99, Some(true));
        assert_eq!(g.after_at_baseline, Some(true));
        let mut worse = row("dio-anon");
        worse.empty_fexit_ratio = Some(0.99);
        worse.after_ratio = Some(0.99);
        let g = Goals::judge(&worse);
        assert_eq!(g.control_within_1_5x_empty_fexit, Some(false));
        assert_eq!(g.after_at_baseline, Some(false));
    }

    #[test]
    fn goals_without_figures_or_outside_the_controls_are_not_judged() {
        let g = Goals::judge(&row("dio-dax"));
        assert_eq!(g.control_within_1_5x_empty_fexit, None);
        let g = Goals::judge(&Row::default());
        assert!(g.verdicts().iter().all(Option::is_none), "{g:?}");
        assert_eq!(verdict(Some(false)), "missed");
    }
}
