//! From runs to results: medians per configuration, ratios per round, the
//! JSON rows of `target/bench/overhead.json` and the table printed and put
//! into docs/performance.md.
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::runs::{Config, Run, metric};

/// The runs of one workload on one kernel: `rounds[r][config]`.
pub struct WorkloadRuns<'a> {
    pub kernel: &'a str,
    pub release: &'a str,
    pub workload: &'a str,
    pub rounds: Vec<[Run; 3]>,
}

/// One line of overhead.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Rounds where all three configurations produced a throughput.
    pub complete_rounds: usize,
    pub stuck_waits: Option<u64>,
    /// BPF run time per daxtrace program over all rounds: (name, runs, ns),
    /// most expensive first.
    #[serde(default)]
    pub bpf_programs: Vec<(String, u64, u64)>,
    pub notes: Vec<String>,
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

fn idx(c: Config) -> usize {
    match c {
        Config::Untraced => 0,
        Config::Daxtrace => 1,
        Config::Bpftrace => 2,
    }
}

fn sum_opt(values: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    values.fold(None, |acc, v| match (acc, v) {
        (a, None) => a,
        (None, Some(v)) => Some(v),
        (Some(a), Some(v)) => Some(a + v),
    })
}

impl WorkloadRuns<'_> {
    fn values(&self, c: Config) -> Vec<f64> {
        self.rounds.iter().filter_map(|r| r[idx(c)].value).collect()
    }

    /// Per round, traced / untraced of that round; rounds missing either are skipped.
    fn ratios(&self, c: Config) -> Vec<f64> {
        self.rounds
            .iter()
            .filter_map(|r| match (r[idx(c)].value, r[0].value) {
                (Some(t), Some(u)) if u > 0.0 => Some(t / u),
                _ => None,
            })
            .collect()
    }

    pub fn row(&self) -> Row {
        let dax = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
            self.rounds
                .iter()
                .filter_map(|r| f(&r[idx(Config::Daxtrace)]))
                .collect()
        };
        let bpf = |f: &dyn Fn(&Run) -> Option<f64>| -> Vec<f64> {
            self.rounds
                .iter()
                .filter_map(|r| f(&r[idx(Config::Bpftrace)]))
                .collect()
        };
        let events_per_s = dax(&|r| match (r.events, r.wall_s) {
            (Some(e), Some(w)) if w > 0.0 => Some(e as f64 / w),
            _ => None,
        });
        let daxs = || self.rounds.iter().map(|r| &r[idx(Config::Daxtrace)]);
        let mut notes: Vec<String> = Vec::new();
        for (i, round) in self.rounds.iter().enumerate() {
            for c in Config::ALL {
                let run = &round[idx(c)];
                for n in &run.notes {
                    notes.push(format!("r{} {}: {n}", i + 1, c.as_str()));
                }
                if let Some(rc) = run.rc.filter(|rc| *rc != 0) {
                    notes.push(format!("r{} {}: workload exit {rc}", i + 1, c.as_str()));
                }
            }
        }
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
                .filter_map(|r| r[idx(Config::Bpftrace)].max_rss_bytes)
                .max(),
            complete_rounds: self
                .rounds
                .iter()
                .filter(|r| r.iter().all(|run| run.value.is_some()))
                .count(),
            stuck_waits: sum_opt(daxs().map(|r| r.stuck_waits)),
            bpf_programs: bpf_totals(daxs()),
            notes,
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

fn num(v: Option<f64>) -> String {
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

fn pct(v: Option<f64>) -> String {
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
mod tests {
    use super::*;

    fn run(value: f64) -> Run {
        Run {
            value: Some(value),
            rc: Some(0),
            wall_s: Some(2.0),
            ..Run::default()
        }
    }

    fn traced(value: f64, events: u64, drops: u64) -> Run {
        Run {
            events: Some(events),
            drops: Some(drops),
            critical_drops: Some(0),
            cpu_s: Some(0.5),
            max_rss_bytes: Some(10),
            ..run(value)
        }
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
            rounds: vec![
                [run(1000.0), traced(990.0, 200, 0), run(900.0)],
                [run(500.0), traced(495.0, 100, 3), run(450.0)],
                [run(1000.0), traced(980.0, 200, 0), run(880.0)],
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
            rounds: vec![[run(10.0), traced(9.0, 40, 0), failed]],
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
