//! From runs to results: medians per configuration, ratios per round, the
//! JSON rows of `target/bench/overhead.json` and the table printed and put
//! into docs/performance.md.
use std::fmt::Write as _;

pub use super::row::Row;
use super::runs::{Config, Run, metric};

/// The runs of one workload on one kernel: `rounds[r][config.index()]`;
/// `configs` are those the workload was run under (the others stay empty).
pub struct WorkloadRuns<'a> {
    pub kernel: &'a str,
    pub release: &'a str,
    pub workload: &'a str,
    pub configs: Vec<Config>,
    pub rounds: Vec<[Run; 5]>,
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

fn sum_opt(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (a, None) => a,
        (None, Some(v)) => Some(v),
        (Some(a), Some(v)) => Some(a + v),
    })
}

/// A run's BPF run time over all its programs (None without stats).
fn bpf_run_ns(run: &Run) -> Option<f64> {
    (!run.bpf_programs.is_empty())
        .then(|| run.bpf_programs.iter().map(|(_, _, ns)| *ns as f64).sum())
}

/// A run's BPF run time per operation (None without stats or operations).
fn bpf_ns_per_op(run: &Run) -> Option<f64> {
    let ops = run.ops.filter(|o| *o > 0)? as f64;
    bpf_run_ns(run).map(|ns| ns / ops)
}

impl WorkloadRuns<'_> {
    fn values(&self, c: Config) -> Vec<f64> {
        self.rounds
            .iter()
            .filter_map(|r| r[c.index()].value)
            .collect()
    }

    /// Per round, traced / untraced of that round; rounds missing either are skipped.
    fn ratios(&self, c: Config) -> Vec<f64> {
        let u = Config::Untraced.index();
        self.rounds
            .iter()
            .filter_map(|r| match (r[c.index()].value, r[u].value) {
                (Some(t), Some(u)) if u > 0.0 => Some(t / u),
                _ => None,
            })
            .collect()
    }

    /// The median over rounds of `f` of the runs under `c`.
    fn median_of(&self, c: Config, f: &dyn Fn(&Run) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|r| f(&r[c.index()]))
            .collect();
        median(&v)
    }

    pub fn row(&self) -> Row {
        let dax = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
            self.rounds
                .iter()
                .filter_map(|r| f(&r[Config::Daxtrace.index()]))
                .collect()
        };
        let bpf = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
            self.rounds
                .iter()
                .filter_map(|r| f(&r[Config::Bpftrace.index()]))
                .collect()
        };
        let events_per_s = dax(&|r| match (r.events, r.wall_s) {
            (Some(e), Some(w)) if w > 0.0 => Some(e as f64 / w),
            _ => None,
        });
        let daxs = || self.rounds.iter().map(|r| &r[Config::Daxtrace.index()]);
        let mut notes: Vec<String> = Vec::new();
        for (i, round) in self.rounds.iter().enumerate() {
            for &c in &self.configs {
                let run = &round[c.index()];
                for n in &run.notes {
                    notes.push(format!("r{} {}: {n}", i + 1, c.as_str()));
                }
                if let Some(rc) = run.rc.filter(|rc| *rc != 0) {
                    notes.push(format!("r{} {}: workload exit {rc}", i + 1, c.as_str()));
                }
                // The full daxtrace run's drops have their own columns.
                if let Some(d) = run.drops.filter(|d| *d > 0 && c != Config::Daxtrace) {
                    let critical = run.critical_drops.unwrap_or(0);
                    notes.push(format!(
                        "r{} {}: {d} drops ({critical} critical)",
                        i + 1,
                        c.as_str()
                    ));
                }
            }
        }
        let ran = |c: Config| self.configs.contains(&c);
        let variant = |c: Config, f: &dyn Fn(&Run) -> Option<f64>| {
            if ran(c) { self.median_of(c, f) } else { None }
        };
        let ratio = |c: Config| {
            if ran(c) {
                median(&self.ratios(c))
            } else {
                None
            }
        };
        Row {
            kernel: self.kernel.to_string(),
            release: self.release.to_string(),
            workload: self.workload.to_string(),
            metric: metric(self.workload).to_string(),
            untraced: median(&self.values(Config::Untraced)),
            daxtrace: median(&self.values(Config::Daxtrace)),
            bpftrace: median(&self.values(Config::Bpftrace)),
            daxtrace_ratio: median(&self.ratios(Config::Daxtrace)),
            bpftrace_ratio: median(&self.ratios(Config::Bpftrace)),
            events_per_s: median(&events_per_s),
            drops: sum_opt(daxs().map(|r| r.drops)),
            critical_drops: sum_opt(daxs().map(|r| r.critical_drops)),
            cpu_s: median(&dax(&|r| r.cpu_s)),
            max_rss_bytes: daxs().filter_map(|r| r.max_rss_bytes).max(),
            startup_cpu_s: median(&dax(&|r| r.startup_cpu_s)),
            bpftrace_startup_cpu_s: median(&bpf(&|r| r.startup_cpu_s)),
            bpftrace_cpu_s: median(&bpf(&|r| r.cpu_s)),
            bpftrace_max_rss_bytes: self
                .rounds
                .iter()
                .filter_map(|r| r[Config::Bpftrace.index()].max_rss_bytes)
                .max(),
            complete_rounds: self
                .rounds
                .iter()
                .filter(|r| self.configs.iter().all(|c| r[c.index()].value.is_some()))
                .count(),
            stuck_waits: sum_opt(daxs().map(|r| r.stuck_waits)),
            bpf_programs: bpf_totals(daxs()),
            notes,
            bpf_run_ns: self.median_of(Config::Daxtrace, &bpf_run_ns),
            bpf_ns_per_op: self.median_of(Config::Daxtrace, &bpf_ns_per_op),
            bpftrace_bpf_ns_per_op: self.median_of(Config::Bpftrace, &bpf_ns_per_op),
            daxtrace_no_stacks: variant(Config::DaxtraceNoStacks, &|r| r.value),
            daxtrace_no_stacks_ratio: ratio(Config::DaxtraceNoStacks),
            daxtrace_no_stacks_cpu_s: variant(Config::DaxtraceNoStacks, &|r| r.cpu_s),
            daxtrace_no_stacks_bpf_run_ns: variant(Config::DaxtraceNoStacks, &bpf_run_ns),
            daxtrace_no_stacks_bpf_ns_per_op: variant(Config::DaxtraceNoStacks, &bpf_ns_per_op),
            daxtrace_no_pins: variant(Config::DaxtraceNoPins, &|r| r.value),
            daxtrace_no_pins_ratio: ratio(Config::DaxtraceNoPins),
            daxtrace_no_pins_cpu_s: variant(Config::DaxtraceNoPins, &|r| r.cpu_s),
            daxtrace_no_pins_bpf_run_ns: variant(Config::DaxtraceNoPins, &bpf_run_ns),
            daxtrace_no_pins_bpf_ns_per_op: variant(Config::DaxtraceNoPins, &bpf_ns_per_op),
        }
    }
}

/// Per program name, runs and run time summed over `runs`, most expensive first.
fn bpf_totals<'a>(runs: impl Iterator<Item = &'a Run>) -> Vec<(String, u64, u64)> {
    let mut by: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for run in runs {
        for (name, cnt, ns) in &run.bpf_programs {
            let e = by.entry(name.clone()).or_default();
            e.0 += cnt;
            e.1 += ns;
        }
    }
    let mut v: Vec<(String, u64, u64)> = by
        .into_iter()
        .filter(|(_, (cnt, _))| *cnt > 0)
        .map(|(n, (c, ns))| (n, c, ns))
        .collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    v
}

/// "name N runs X us/run" for the three most expensive programs of `row`.
fn bpf_top(row: &Row) -> Option<String> {
    let top: Vec<String> = row
        .bpf_programs
        .iter()
        .take(3)
        .map(|(name, cnt, ns)| {
            let per_run = *ns as f64 / 1000.0 / (*cnt).max(1) as f64;
            format!("{name} {cnt} runs {per_run:.1} us/run")
        })
        .collect();
    (!top.is_empty()).then(|| {
        format!(
            "- {} {}: daxtrace BPF run time: {}",
            row.release,
            row.workload,
            top.join(", ")
        )
    })
}

pub(super) fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

fn cpu(run: Option<f64>, attach: Option<f64>) -> String {
    match (run, attach) {
        (Some(r), Some(a)) => format!("{r:.2} ({a:.1})"),
        (Some(r), None) => format!("{r:.2}"),
        _ => "-".into(),
    }
}

pub(super) fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// The table: one line per kernel and workload.
pub fn render(rows: &[Row]) -> String {
    let mut out = String::from(
        "| kernel | workload | metric | untraced | daxtrace | bpftrace | daxtrace/untraced | bpftrace/untraced | events/s | drops (critical) | daxtrace CPU s run (attach) | daxtrace max RSS | bpftrace CPU s run (attach) | bpftrace max RSS | rounds |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mib = |b: Option<u64>| b.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0));
    for r in rows {
        let drops = match (r.drops, r.critical_drops) {
            (Some(d), Some(c)) => format!("{d} ({c})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.release,
            r.workload,
            r.metric,
            num(r.untraced),
            num(r.daxtrace),
            num(r.bpftrace),
            pct(r.daxtrace_ratio),
            pct(r.bpftrace_ratio),
            num(r.events_per_s),
            drops,
            cpu(r.cpu_s, r.startup_cpu_s),
            mib(r.max_rss_bytes),
            cpu(r.bpftrace_cpu_s, r.bpftrace_startup_cpu_s),
            mib(r.bpftrace_max_rss_bytes),
            r.complete_rounds,
        );
    }
    let notes: Vec<String> = rows
        .iter()
        .flat_map(|r| {
            r.notes
                .iter()
                .map(move |n| format!("- {} {}: {n}", r.release, r.workload))
                .chain(bpf_top(r))
        })
        .collect();
    if !notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::bench) fn run(value: f64) -> Run {
        Run {
            value: Some(value),
            rc: Some(0),
            wall_s: Some(2.0),
            ..Run::default()
        }
    }

    pub(in crate::bench) fn traced(value: f64, events: u64, drops: u64) -> Run {
        Run {
            events: Some(events),
            drops: Some(drops),
            critical_drops: Some(0),
            cpu_s: Some(0.5),
            max_rss_bytes: Some(10),
            ..run(value)
        }
    }

    /// A round of the three base configurations (the pin variants not run).
    pub(in crate::bench) fn base(untraced: Run, daxtrace: Run, bpftrace: Run) -> [Run; 5] {
        [untraced, daxtrace, bpftrace, Run::default(), Run::default()]
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn ratios_pair_each_round_with_its_own_untraced_run() {
        // The host got slower in round 2: per-round ratios see no cost.
        let w = WorkloadRuns {
            kernel: "6.1",
            release: "6.1.0-50-amd64",
            workload: "dio-dax",
            configs: Config::BASE.to_vec(),
            rounds: vec![
                base(run(1000.0), traced(990.0, 200, 0), run(900.0)),
                base(run(500.0), traced(495.0, 100, 3), run(450.0)),
                base(run(1000.0), traced(980.0, 200, 0), run(880.0)),
            ],
        };
        let row = w.row();
        assert_eq!(row.metric, "IOPS");
        assert_eq!(row.untraced, Some(1000.0));
        assert_eq!(row.daxtrace_ratio, Some(0.99));
        assert_eq!(row.bpftrace_ratio, Some(0.9));
        assert_eq!(row.events_per_s, Some(100.0));
        assert_eq!(row.drops, Some(3));
        assert_eq!(row.critical_drops, Some(0));
        assert_eq!(row.complete_rounds, 3);
        let table = render(&[row]);
        assert!(
            table
                .contains("| 6.1.0-50-amd64 | dio-dax | IOPS | 1000 | 980 | 880 | 99.0% | 90.0% |")
        );
    }

    #[test]
    fn a_failed_run_is_left_out_and_said() {
        let mut failed = run(0.0);
        failed.value = None;
        failed.notes.push("tracer bpftrace did not start".into());
        let w = WorkloadRuns {
            kernel: "7",
            release: "7.2",
            workload: "mount-cycles",
            configs: Config::BASE.to_vec(),
            rounds: vec![base(run(10.0), traced(9.0, 40, 0), failed)],
        };
        let row = w.row();
        assert_eq!(row.metric, "ops/s");
        assert_eq!(row.bpftrace, None);
        assert_eq!(row.bpftrace_ratio, None);
        assert_eq!(row.complete_rounds, 0);
        assert_eq!(row.notes, ["r1 bpftrace: tracer bpftrace did not start"]);
        assert!(render(&[row]).contains("Notes:\n- 7.2 mount-cycles: r1 bpftrace"));
    }
}
