//! Reading what `xtask/guest/bench.sh` left in the share: one [`Run`] per
//! workload, round and configuration, from fio's JSON, the cycle counters,
//! the recorder's report and the tracer's CPU and RSS readings.
use std::path::Path;

use dax_trace_common::probe::{Family, POINTS};
use serde_json::Value;

pub use super::config::{Config, PIN_WORKLOADS, WORKLOADS, counts_ops};
use super::window::{self, WindowStats};

/// What a workload's throughput is counted in.
pub fn metric(workload: &str) -> &'static str {
    if counts_ops(workload) {
        "ops/s"
    } else {
        "IOPS"
    }
}

/// One run of one workload under one configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// Throughput (IOPS or ops/s); None when the run produced none.
    pub value: Option<f64>,
    /// Operations the run did (fio: reads + writes issued; cycles: cycles).
    pub ops: Option<u64>,
    /// The workload's exit status.
    pub rc: Option<i64>,
    pub wall_s: Option<f64>,
    /// daxtrace only: events in the trace, drops (all points) and drops at
    /// claim, release, busy-page, wait and stuck-wait points.
    pub events: Option<u64>,
    pub drops: Option<u64>,
    pub critical_drops: Option<u64>,
    pub stuck_waits: Option<u64>,
    /// The tracer's own CPU time while the workload ran (after attaching),
    /// its CPU time to attach, and its peak RSS.
    pub cpu_s: Option<f64>,
    pub startup_cpu_s: Option<f64>,
    pub max_rss_bytes: Option<u64>,
    /// Per BPF program of the tracer (kallsyms name), runs and run time
    /// in ns while kernel.bpf_stats_enabled was on.
    pub bpf_programs: Vec<(String, u64, u64)>,
    /// Things worth saying (tracer failed to start, punch loop stuck...).
    pub notes: Vec<String>,
}

/// The kernel's USER_HZ on x86 (what /proc/PID/stat counts in).
const USER_HZ: f64 = 100.0;

/// Families whose events must never be lost (the benchmark's zero-drop goal).
pub fn is_critical(family: Family) -> bool {
    matches!(
        family,
        Family::Claim
            | Family::Release
            | Family::LayoutBusy
            | Family::LayoutWait
            | Family::StuckWait
    )
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// IOPS of a fio JSON report: reads plus writes of its first job.
pub fn fio_iops(doc: &Value) -> Option<f64> {
    let job = doc.get("jobs")?.get(0)?;
    let read = job.get("read")?.get("iops")?.as_f64()?;
    let write = job.get("write")?.get("iops")?.as_f64()?;
    Some(read + write)
}

/// I/Os of a fio JSON report: reads plus writes of its first job.
pub fn fio_ios(doc: &Value) -> Option<u64> {
    let job = doc.get("jobs")?.get(0)?;
    let read = job.get("read")?.get("total_ios")?.as_u64()?;
    let write = job.get("write")?.get("total_ios")?.as_u64()?;
    Some(read + write)
}

/// fio writes notes before its JSON document on some errors: parse from the first `{`.
fn parse_fio(text: &str) -> Option<Value> {
    let start = text.find('{')?;
    serde_json::from_str(&text[start..]).ok()
}

/// `N ELAPSED_US` of a cycles workload, as ops/s.
pub fn cycles_rate(text: &str) -> Option<f64> {
    let mut words = text.split_whitespace();
    let n: f64 = words.next()?.parse().ok()?;
    let us: f64 = words.next()?.parse().ok()?;
    (us > 0.0).then(|| n / (us / 1e6))
}

/// (drops at every point, drops at critical points) of a `report --json` document.
pub fn report_drops(report: &Value) -> (u64, u64) {
    let Some(per_point) = report
        .pointer("/summary/drops/per_point")
        .and_then(Value::as_object)
    else {
        return (0, 0);
    };
    split_drops(
        per_point
            .iter()
            .map(|(point, n)| (point.parse().ok(), n.as_u64().unwrap_or(0))),
    )
}

/// (all, critical) of drops per point; an unknown point counts as critical:
/// better a false alarm than a miss.
pub fn split_drops(per_point: impl IntoIterator<Item = (Option<usize>, u64)>) -> (u64, u64) {
    let mut all = 0;
    let mut critical = 0;
    for (point, n) in per_point {
        all += n;
        let family = point.and_then(|i| POINTS.get(i)).map(|p| p.family);
        if family.is_none_or(is_critical) {
            critical += n;
        }
    }
    (all, critical)
}

/// Reads the run `WORKLOAD.rROUND.CONFIG` from `runs_dir`.
pub fn read_run(runs_dir: &Path, workload: &str, round: u32, config: Config) -> Run {
    let tag = format!("{workload}.r{round}.{}", config.as_str());
    let file = |suffix: &str| runs_dir.join(format!("{tag}.{suffix}"));
    let mut run = Run {
        rc: read_trimmed(&file("rc")).and_then(|s| s.parse().ok()),
        wall_s: read_trimmed(&file("wall_us"))
            .and_then(|s| s.parse::<f64>().ok())
            .map(|us| us / 1e6),
        ..Run::default()
    };
    run.value = if counts_ops(workload) {
        let cycles = read_trimmed(&file("cycles"));
        run.ops = cycles
            .as_deref()
            .and_then(|t| t.split_whitespace().next()?.parse().ok());
        cycles.and_then(|t| cycles_rate(&t))
    } else {
        let doc = std::fs::read_to_string(file("fio.json"))
            .ok()
            .and_then(|t| parse_fio(&t));
        let errors = doc
            .as_ref()
            .and_then(|d| d.pointer("/jobs/0/total_err"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if errors > 0 {
            run.notes.push(format!("{errors} I/O errors"));
        }
        run.ops = doc.as_ref().and_then(fio_ios);
        doc.and_then(|d| fio_iops(&d))
    };
    if let Some(why) = read_trimmed(&file("tracer_failed")) {
        run.notes.push(why);
    }
    if let Some(stuck) = read_trimmed(&file("punch_stuck")) {
        run.notes.push(stuck);
    }
    if let Some(rc) = read_trimmed(&file("scrape_rc")).filter(|rc| rc != "0") {
        run.notes
            .push(format!("scrape of /metrics failed (wget exit {rc})"));
    }
    if let Some(n) = read_trimmed(&file("punches")) {
        run.notes.push(format!("{n} punches"));
    }
    if !config.is_untraced() {
        let ticks = |suffix: &str| read_trimmed(&file(suffix)).and_then(|s| s.parse::<f64>().ok());
        let (start, end) = (ticks("start_cpu_ticks"), ticks("cpu_ticks"));
        // In a session the attach is the session's; before sessions it was
        // the run's own start.
        run.startup_cpu_s = ticks("attach_cpu_ticks").or(start).map(|t| t / USER_HZ);
        run.cpu_s = match (start, end) {
            (Some(s), Some(e)) if e >= s => Some((e - s) / USER_HZ),
            (None, Some(e)) => Some(e / USER_HZ),
            _ => None,
        };
        let stopped_by = std::fs::read_to_string(file("stopped_by")).ok();
        match stopped_by.as_deref().map(str::trim) {
            Some("INT") => {}
            Some("") => run.notes.push("tracer could not be stopped".into()),
            Some(sig) => run
                .notes
                .push(format!("ignored SIGINT, stopped by SIG{sig}")),
            // Older guest scripts: SIGINT, then SIGKILL after 60 s.
            None if read_trimmed(&file("tracer.rc")).as_deref() == Some("137") => {
                run.notes.push("ignored SIGINT for 60 s, killed".into());
            }
            None => {}
        }
        run.max_rss_bytes = read_trimmed(&file("max_rss_bytes")).and_then(|s| s.parse().ok());
    }
    if !config.is_untraced() {
        let stats = |suffix: &str| {
            std::fs::read_to_string(file(suffix))
                .map(|t| parse_bpf_stats(&t))
                .unwrap_or_default()
        };
        // A window of a session: its share of the session's run times.
        // Every program is loaded before the first window: a reading at the
        // start that lists fewer than the one at the end was cut short
        // (guest scripts before the fdinfo reading went through cat).
        let (begin, end) = (stats("bpf_stats_begin"), stats("bpf_stats"));
        if file("bpf_stats_begin").exists() && begin.len() < end.len() {
            run.notes.push(format!(
                "BPF run times not used: {} programs read at the window's start, {} at its end",
                begin.len(),
                end.len()
            ));
        } else {
            run.bpf_programs = window::bpf_delta(&begin, &end);
        }
    }
    if config.is_daxtrace()
        && let Some(stats) = session_window(runs_dir, &tag, &mut run.notes)
    {
        run.events = Some(stats.events);
        let (all, critical) = split_drops(
            stats
                .drops_per_point
                .iter()
                .map(|(p, n)| (Some(usize::from(*p)), *n)),
        );
        run.drops = Some(all);
        run.critical_drops = Some(critical);
        run.stuck_waits = Some(stats.stuck_waits);
    } else if config.is_daxtrace()
        && let Some(report) = std::fs::read_to_string(file("report.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        // Runs of the guest script before sessions: one trace per run.
        run.events = report
            .pointer("/summary/totals/events")
            .and_then(Value::as_u64);
        let (all, critical) = report_drops(&report);
        run.drops = Some(all);
        run.critical_drops = Some(critical);
        run.stuck_waits = report
            .pointer("/summary/stuck_waits")
            .and_then(Value::as_u64);
    }
    run
}

/// The events and drops of the window `tag` in its session's trace, when
/// the run was one (a note says why a window could not be read).
fn session_window(runs_dir: &Path, tag: &str, notes: &mut Vec<String>) -> Option<WindowStats> {
    let file = |suffix: &str| runs_dir.join(format!("{tag}.{suffix}"));
    let session = read_trimmed(&file("session"))?;
    let ns = |suffix: &str| read_trimmed(&file(suffix)).and_then(|s| s.parse::<u64>().ok());
    let (Some(begin), Some(end)) = (ns("window_begin_ns"), ns("window_end_ns")) else {
        notes.push("window bounds not written".into());
        return None;
    };
    let jsonl = runs_dir.join(format!("{session}.jsonl"));
    match window::read_window(&jsonl, begin, end) {
        Ok(stats) => Some(stats),
        Err(e) => {
            notes.push(format!("{}: {e}", jsonl.display()));
            None
        }
    }
}

/// Lines `NAME RUN_CNT RUN_TIME_NS` of the guest's bpf_stats.
pub fn parse_bpf_stats(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next()?.to_string();
            let cnt = w.next()?.parse().ok()?;
            let ns = w.next()?.parse().ok()?;
            Some((name, cnt, ns))
        })
        .collect()
}

#[cfg(test)]
#[path = "runs_tests.rs"]
mod tests;
