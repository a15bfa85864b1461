//! The tables `cargo xtask bench overhead` prints and writes to
//! `target/bench/overhead.md`: throughput ratios, the goals met or missed,
//! and what each tracer used.
use std::fmt::Write as _;

use super::goals::{self, NAMES};
use super::row::Row;

pub(super) fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

pub(super) fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// A spread, finer than a ratio: A/A pairs agree within 0.1% under icount.
fn spread(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2}%", v * 100.0))
}

fn cpu(run: Option<f64>, attach: Option<f64>) -> String {
    match (run, attach) {
        (Some(r), Some(a)) => format!("{r:.2} ({a:.1})"),
        (Some(r), None) => format!("{r:.2}"),
        _ => "-".into(),
    }
}

fn mib(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

/// "instructions" when every row counts them (the instruction clock).
fn bpf_unit(rows: &[Row]) -> &'static str {
    if rows.iter().all(|r| r.clock == "icount") {
        "instructions"
    } else {
        "instructions (icount) or ns"
    }
}

/// The tables: ratios, goals, resources, then notes.
pub fn render(rows: &[Row]) -> String {
    let unit = bpf_unit(rows);
    let mut out = format!(
        "Throughput, as a share of the untraced A/A pair's mean (median over rounds):\n\n\
         | kernel | workload | clock | metric | untraced | A/A spread | daxtrace | bpftrace count-only | bpftrace-owners | empty-fexit | serve | after | daxtrace BPF {unit}/op | drops (critical) | events/s | rounds |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let drops = match (r.drops, r.critical_drops) {
            (Some(d), Some(c)) => format!("{d} ({c})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.release,
            r.workload,
            r.clock,
            r.metric,
            num(r.untraced),
            spread(r.aa_spread),
            pct(r.daxtrace_ratio),
            pct(r.bpftrace_ratio),
            pct(r.owners_bpftrace_ratio),
            pct(r.empty_fexit_ratio),
            pct(r.serve_ratio),
            pct(r.after_ratio),
            num(r.bpf_insns_per_op.or(r.bpf_ns_per_op)),
            drops,
            num(r.events_per_s),
            r.complete_rounds,
        );
    }
    out.push_str(
        "\nGoals (reported, never asserted; docs/performance.md):\n\n| kernel | workload |",
    );
    for name in NAMES {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---|".repeat(NAMES.len()));
    out.push('\n');
    for r in rows {
        let _ = write!(out, "| {} | {} |", r.release, r.workload);
        for v in r.goals.verdicts() {
            let _ = write!(out, " {} |", goals::verdict(v));
        }
        out.push('\n');
    }
    out.push_str(
        "\nTracers' CPU seconds per window (to attach) and peak RSS:\n\n\
         | kernel | workload | daxtrace record | RSS | bpftrace count-only | RSS | bpftrace-owners | RSS | serve | RSS |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.release,
            r.workload,
            cpu(r.cpu_s, r.startup_cpu_s),
            mib(r.max_rss_bytes),
            cpu(r.bpftrace_cpu_s, r.bpftrace_startup_cpu_s),
            mib(r.bpftrace_max_rss_bytes),
            cpu(r.owners_bpftrace_cpu_s, r.owners_bpftrace_startup_cpu_s),
            mib(r.owners_bpftrace_max_rss_bytes),
            num(r.serve_cpu_s),
            mib(r.serve_max_rss_bytes),
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

/// "name: R runs/op, N instructions/op" for the three costliest programs.
fn bpf_top(row: &Row) -> Option<String> {
    let top: Vec<String> = row
        .bpf_programs
        .iter()
        .take(3)
        .map(|p| {
            let cost = match (p.insns_per_op, p.ns_per_op) {
                (Some(i), _) => format!("{i:.0} instructions/op"),
                (None, Some(ns)) => format!("{ns:.0} ns/op"),
                _ => format!("{} runs", p.runs),
            };
            format!(
                "{} {:.2} runs/op {cost}",
                p.name,
                p.runs_per_op.unwrap_or(0.0)
            )
        })
        .collect();
    (!top.is_empty()).then(|| {
        format!(
            "- {} {}: daxtrace BPF programs (attribution windows): {}",
            row.release,
            row.workload,
            top.join(", ")
        )
    })
}
