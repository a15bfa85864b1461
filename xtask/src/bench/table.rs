//! From runs to results: per round the untraced A/A pair, its spread and
//! every configuration's ratio to the pair's mean; medians over rounds; the
//! JSON rows of `target/bench/overhead.json` ([`super::render`] prints them).
use std::collections::BTreeMap;

use super::goals::Goals;
pub use super::render::render;
pub use super::row::{BpfProgram, Row};
use super::runs::{Config, Run, metric};

/// The runs of one round, indexed by [`Config::index`].
pub type Round = [Run; Config::ALL.len()];

/// The runs of one workload on one kernel; `configs` are those the
/// workload was run under (the others stay empty).
pub struct WorkloadRuns<'a> {
    pub kernel: &'a str,
    pub release: &'a str,
    pub workload: &'a str,
    /// `icount`, `tcg` or `kvm`: what the guest's clock counts.
    pub clock: &'a str,
    pub configs: Vec<Config>,
    pub rounds: Vec<Round>,
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        f64::midpoint(v[mid - 1], v[mid])
    })
}

/// The mean of an A/A pair and its spread |a - b| / mean.
pub fn aa_pair(a: f64, b: f64) -> Option<(f64, f64)> {
    let mean = f64::midpoint(a, b);
    (mean > 0.0 && mean.is_finite()).then(|| (mean, (a - b).abs() / mean))
}

fn sum_opt(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (a, None) => a,
        (None, Some(v)) => Some(v),
        (Some(a), Some(v)) => Some(a + v),
    })
}

/// A run's BPF run time per operation (None without stats or operations).
fn bpf_per_op(run: &Run) -> Option<f64> {
    let ops = run.ops.filter(|o| *o > 0)? as f64;
    (!run.bpf_programs.is_empty()).then(|| {
        run.bpf_programs
            .iter()
            .map(|(_, _, t)| *t as f64)
            .sum::<f64>()
            / ops
    })
}

impl WorkloadRuns<'_> {
    fn ran(&self, c: Config) -> bool {
        self.configs.contains(&c)
    }

    fn runs(&self, c: Config) -> impl Iterator<Item = &Run> {
        self.rounds.iter().map(move |r| &r[c.index()])
    }

    /// The median over rounds of `f` of the runs under `c` (None if `c` did not run).
    fn median_of(&self, c: Config, f: &dyn Fn(&Run) -> Option<f64>) -> Option<f64> {
        if !self.ran(c) {
            return None;
        }
        median(&self.runs(c).filter_map(f).collect::<Vec<_>>())
    }

    /// Per round, the untraced A/A pair's (mean, spread); with one run of
    /// the pair only (older runs, or one failed) its value and no spread.
    fn baselines(&self) -> Vec<Option<(f64, Option<f64>)>> {
        let (a, b) = (Config::Untraced.index(), Config::UntracedRepeat.index());
        self.rounds
            .iter()
            .map(|r| match (r[a].value, r[b].value) {
                (Some(x), Some(y)) => aa_pair(x, y).map(|(m, s)| (m, Some(s))),
                (Some(x), None) | (None, Some(x)) if x > 0.0 => Some((x, None)),
                _ => None,
            })
            .collect()
    }

    /// Per round, the run under `c` over the round's A/A mean.
    fn ratios(&self, c: Config) -> Vec<f64> {
        if !self.ran(c) {
            return Vec::new();
        }
        self.rounds
            .iter()
            .zip(self.baselines())
            .filter_map(|(r, base)| Some(r[c.index()].value? / base?.0))
            .collect()
    }

    fn ratio(&self, c: Config) -> Option<f64> {
        median(&self.ratios(c))
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (i, round) in self.rounds.iter().enumerate() {
            for &c in &self.configs {
                let run = &round[c.index()];
                for n in &run.notes {
                    notes.push(format!("r{} {}: {n}", i + 1, c.as_str()));
                }
                if let Some(rc) = run.rc.filter(|rc| *rc != 0) {
                    notes.push(format!("r{} {}: workload exit {rc}", i + 1, c.as_str()));
                }
                // The full recorder's drops have their own columns.
                let full = matches!(c, Config::Daxtrace | Config::DaxtraceAttribution);
                if let Some(d) = run.drops.filter(|d| *d > 0 && !full) {
                    let critical = run.critical_drops.unwrap_or(0);
                    notes.push(format!(
                        "r{} {}: {d} drops ({critical} critical)",
                        i + 1,
                        c.as_str()
                    ));
                }
            }
        }
        notes
    }

    /// daxtrace's programs over the attribution windows of every round.
    fn bpf_programs(&self) -> Vec<BpfProgram> {
        let attribution = || self.runs(Config::DaxtraceAttribution);
        let ops: u64 = attribution()
            .filter(|r| !r.bpf_programs.is_empty())
            .filter_map(|r| r.ops)
            .sum();
        let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (name, cnt, t) in attribution().flat_map(|r| &r.bpf_programs) {
            let e = by.entry(name).or_default();
            e.0 += cnt;
            e.1 += t;
        }
        let icount = self.clock == "icount";
        let per_op = |n: u64| (ops > 0).then(|| n as f64 / ops as f64);
        let mut v: Vec<BpfProgram> = by
            .into_iter()
            .filter(|(_, (runs, _))| *runs > 0)
            .map(|(name, (runs, t))| BpfProgram {
                name: name.to_string(),
                runs,
                insns: icount.then_some(t),
                ns: (!icount).then_some(t),
                runs_per_op: per_op(runs),
                insns_per_op: if icount { per_op(t) } else { None },
                ns_per_op: if icount { None } else { per_op(t) },
            })
            .collect();
        v.sort_by(|a, b| {
            let t = |p: &BpfProgram| p.insns.or(p.ns).unwrap_or(0);
            t(b).cmp(&t(a)).then_with(|| a.name.cmp(&b.name))
        });
        v
    }

    pub fn row(&self) -> Row {
        let baselines = self.baselines();
        let dax = Config::Daxtrace;
        let daxtrace_windows = || self.runs(dax).chain(self.runs(Config::DaxtraceAttribution));
        let events_per_s = |r: &Run| match (r.events, r.wall_s) {
            (Some(e), Some(w)) if w > 0.0 => Some(e as f64 / w),
            _ => None,
        };
        let max_rss = |c: Config| self.runs(c).filter_map(|r| r.max_rss_bytes).max();
        let icount = self.clock == "icount";
        let per_op = self.median_of(Config::DaxtraceAttribution, &bpf_per_op);
        let mut row = Row {
            kernel: self.kernel.to_string(),
            release: self.release.to_string(),
            workload: self.workload.to_string(),
            metric: metric(self.workload).to_string(),
            clock: self.clock.to_string(),
            untraced: median(&baselines.iter().flatten().map(|b| b.0).collect::<Vec<_>>()),
            aa_spread: baselines
                .iter()
                .flatten()
                .filter_map(|b| b.1)
                .reduce(f64::max),
            daxtrace: self.median_of(dax, &|r| r.value),
            bpftrace: self.median_of(Config::Bpftrace, &|r| r.value),
            owners_bpftrace: self.median_of(Config::BpftraceOwners, &|r| r.value),
            empty_fexit: self.median_of(Config::EmptyFexit, &|r| r.value),
            serve: self.median_of(Config::Serve, &|r| r.value),
            after: self.median_of(Config::After, &|r| r.value),
            daxtrace_ratio: self.ratio(dax),
            bpftrace_ratio: self.ratio(Config::Bpftrace),
            owners_bpftrace_ratio: self.ratio(Config::BpftraceOwners),
            empty_fexit_ratio: self.ratio(Config::EmptyFexit),
            serve_ratio: self.ratio(Config::Serve),
            after_ratio: self.ratio(Config::After),
            events_per_s: self.median_of(dax, &events_per_s),
            drops: sum_opt(daxtrace_windows().map(|r| r.drops)),
            critical_drops: sum_opt(daxtrace_windows().map(|r| r.critical_drops)),
            stuck_waits: sum_opt(daxtrace_windows().map(|r| r.stuck_waits)),
            bpf_insns_per_op: per_op.filter(|_| icount),
            bpf_ns_per_op: per_op.filter(|_| !icount),
            bpf_programs: self.bpf_programs(),
            cpu_s: self.median_of(dax, &|r| r.cpu_s),
            startup_cpu_s: self.median_of(dax, &|r| r.startup_cpu_s),
            max_rss_bytes: max_rss(dax),
            bpftrace_cpu_s: self.median_of(Config::Bpftrace, &|r| r.cpu_s),
            bpftrace_startup_cpu_s: self.median_of(Config::Bpftrace, &|r| r.startup_cpu_s),
            bpftrace_max_rss_bytes: max_rss(Config::Bpftrace),
            owners_bpftrace_cpu_s: self.median_of(Config::BpftraceOwners, &|r| r.cpu_s),
            owners_bpftrace_startup_cpu_s: self
                .median_of(Config::BpftraceOwners, &|r| r.startup_cpu_s),
            owners_bpftrace_max_rss_bytes: max_rss(Config::BpftraceOwners),
            serve_cpu_s: self.median_of(Config::Serve, &|r| r.cpu_s),
            serve_max_rss_bytes: max_rss(Config::Serve),
            daxtrace_no_stacks: self.median_of(Config::DaxtraceNoStacks, &|r| r.value),
            daxtrace_no_stacks_ratio: self.ratio(Config::DaxtraceNoStacks),
            daxtrace_no_stacks_cpu_s: self.median_of(Config::DaxtraceNoStacks, &|r| r.cpu_s),
            daxtrace_no_pins: self.median_of(Config::DaxtraceNoPins, &|r| r.value),
            daxtrace_no_pins_ratio: self.ratio(Config::DaxtraceNoPins),
            daxtrace_no_pins_cpu_s: self.median_of(Config::DaxtraceNoPins, &|r| r.cpu_s),
            complete_rounds: self
                .rounds
                .iter()
                .filter(|r| self.configs.iter().all(|c| r[c.index()].value.is_some()))
                .count(),
            goals: Goals::default(),
            notes: self.notes(),
        };
        row.goals = Goals::judge(&row);
        row
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
pub(super) mod tests;
