//! The benchmark harness smoke of `cargo xtask test` (one round, 1 s runs,
//! a few workloads, in the 6.1 boot of the VM stage): every workload ran in
//! every configuration and gave a throughput (the pin variants `--no-stacks`
//! and `--no-pins` on dio-dax only), daxtrace recorded its events and its
//! CPU/RSS were read. Timings are printed, never judged.
use std::path::Path;

use xtask::vm::KernelGen;

use super::runs::metric;
use super::{collect_rows, pins_table, table};

/// The workloads vm-test.sh gives the smoke (must match it).
/// One fio workload (with the pin variants) and one counted-cycles one: each
/// configuration starts a recorder, about 30 s under TCG, so every workload
/// more costs minutes of the VM stage.
pub const SMOKE_WORKLOADS: [&str; 2] = ["dio-dax", "mount-cycles"];
/// The workloads vm-test.sh runs the pin variants on (BENCH_PIN_WORKLOADS).
pub const SMOKE_PIN_WORKLOADS: [&str; 1] = ["dio-dax"];

pub fn judge(kernel: KernelGen, release: &str, share: &Path) -> Result<String, String> {
    let rc = crate::vmtest::read_rc(share, "bench")?;
    if rc != 0 {
        return Err(format!(
            "bench.sh exit {rc} (see {})",
            share.join("bench.stderr").display()
        ));
    }
    let dir = share.join("bench");
    let rows = collect_rows(
        kernel,
        release,
        &dir,
        1,
        &SMOKE_WORKLOADS,
        &SMOKE_PIN_WORKLOADS,
    );
    eprintln!("bench smoke on {release}:\n{}", table::render(&rows));
    if let Some(pins) = pins_table::render(&rows) {
        eprintln!("{pins}");
    }
    let mut problems = Vec::new();
    for r in &rows {
        let mut expected = vec![
            ("untraced", r.untraced),
            ("daxtrace", r.daxtrace),
            ("bpftrace", r.bpftrace),
        ];
        if SMOKE_PIN_WORKLOADS.contains(&r.workload.as_str()) {
            expected.push(("daxtrace-no-stacks", r.daxtrace_no_stacks));
            expected.push(("daxtrace-no-pins", r.daxtrace_no_pins));
        }
        let missing: Vec<&str> = expected
            .iter()
            .filter(|(_, v)| !v.is_some_and(|v| v > 0.0))
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{}: no {} throughput",
                r.workload,
                missing.join("/")
            ));
        }
        if r.metric != metric(&r.workload) {
            problems.push(format!("{}: metric {}", r.workload, r.metric));
        }
        if r.cpu_s.is_none() || r.max_rss_bytes.is_none_or(|b| b == 0) {
            problems.push(format!("{}: daxtrace CPU/RSS not read", r.workload));
        }
        if r.bpftrace_max_rss_bytes.is_none_or(|b| b == 0) {
            problems.push(format!("{}: bpftrace RSS not read", r.workload));
        }
        if r.drops.is_none() {
            problems.push(format!("{}: no daxtrace report", r.workload));
        }
        // Claims and releases (mounts) and pins/puts (DAX buffers) reach the trace.
        if r.workload != "dio-anon" && r.events_per_s.is_none_or(|e| e <= 0.0) {
            problems.push(format!("{}: daxtrace saw no event", r.workload));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} workloads x 3 configs (+2 pin variants on {}) ran; ratios {}",
            rows.len(),
            SMOKE_PIN_WORKLOADS.join(", "),
            rows.iter()
                .map(|r| format!(
                    "{} {:.2}/{:.2}",
                    r.workload,
                    r.daxtrace_ratio.unwrap_or(f64::NAN),
                    r.bpftrace_ratio.unwrap_or(f64::NAN)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else {
        Err(problems.join("; "))
    }
}
