//! The benchmark harness smoke of `cargo xtask test` (one round, 1 s runs,
//! a few workloads, in the 6.1 boot of the VM stage, on that boot's clock):
//! every workload ran in every configuration and gave a throughput (the
//! untraced A/A pair and the run after the tracers, daxtrace, both bpftrace
//! scripts, the empty fexit, serve; the pin variants `--no-stacks` and
//! `--no-pins` on dio-dax only), daxtrace recorded its events, its
//! attribution windows read BPF run times, and the tracers' CPU/RSS were
//! read. Timings are printed, never judged.
use std::path::Path;

use xtask::vm::KernelGen;

use crate::bench::runs::metric;
use crate::bench::{clock_name, collect_rows, pins_table, table};

/// The workloads vm-test.sh gives the smoke (must match it).
/// One fio workload (with the pin variants) and one counted-cycles one: each
/// configuration starts a recorder, about 30 s under TCG, so every workload
/// more costs minutes of the VM stage.
pub const SMOKE_WORKLOADS: [&str; 2] = ["dio-dax", "mount-cycles"];
/// The workloads vm-test.sh runs the pin variants on (BENCH_PIN_WORKLOADS).
pub const SMOKE_PIN_WORKLOADS: [&str; 1] = ["dio-dax"];

pub fn judge(kernel: KernelGen, release: &str, share: &Path) -> Result<String, String> {
    let rc = super::share::read_rc(share, "bench")?;
    if rc != 0 {
        return Err(format!(
            "bench.sh exit {rc} (see {})",
            share.join("bench.stderr").display()
        ));
    }
    let dir = share.join("bench");
    // The test boot runs on the accelerator `cargo xtask vm` picks.
    let clock = clock_name(xtask::vm::accel::detect());
    let rows = collect_rows(
        kernel,
        release,
        &dir,
        1,
        &SMOKE_WORKLOADS,
        &SMOKE_PIN_WORKLOADS,
        clock,
    );
    eprintln!("bench smoke on {release}:\n{}", table::render(&rows));
    if let Some(pins) = pins_table::render(&rows) {
        eprintln!("{pins}");
    }
    let mut problems = Vec::new();
    for r in &rows {
        let mut expected = vec![
            ("untraced", r.untraced),
            ("untraced A/A", r.aa_spread.map(|_| 1.0)),
            ("daxtrace", r.daxtrace),
            ("bpftrace", r.bpftrace),
            ("bpftrace-owners", r.owners_bpftrace),
            ("empty-fexit", r.empty_fexit),
            ("serve", r.serve),
            ("after", r.after),
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
        // The attribution windows ran with BPF statistics on (the O_DIRECT
        // workload runs a gup program per I/O).
        if r.workload == "dio-dax" && r.bpf_insns_per_op.or(r.bpf_ns_per_op).is_none() {
            problems.push(format!(
                "{}: no BPF run time in the attribution window",
                r.workload
            ));
        }
        // Claims and releases (mounts) and pins/puts (DAX buffers) reach the trace.
        if r.workload != "dio-anon" && r.events_per_s.is_none_or(|e| e <= 0.0) {
            problems.push(format!("{}: daxtrace saw no event", r.workload));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} workloads x 9 configs (+2 pin variants on {}) ran; ratios daxtrace/bpftrace {}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::runs::Config;

    /// The files bench.sh leaves for one run of `workload` under `config`.
    fn put_run(runs: &Path, workload: &str, config: Config) {
        let tag = format!("{workload}.r1.{}", config.as_str());
        let put = |suffix: &str, text: &str| {
            std::fs::write(runs.join(format!("{tag}.{suffix}")), text).unwrap()
        };
        if crate::bench::config::counts_ops(workload) {
            put("cycles", "4 1000000\n");
        } else {
            put(
                "fio.json",
                r#"{"jobs": [{"read": {"iops": 500.0, "total_ios": 500}, "write": {"iops": 0.0, "total_ios": 0}}]}"#,
            );
        }
        put("rc", "0\n");
        put("wall_us", "1000000\n");
        if config == Config::DaxtraceAttribution {
            put("bpf_stats_begin", "fexit_get_user_ 10 1000\n");
            put("bpf_stats", "fexit_get_user_ 510 51000\n");
        }
        if !config.is_untraced() {
            put("start_cpu_ticks", "100\n");
            put("cpu_ticks", "110\n");
            put("max_rss_bytes", "1048576\n");
            put("stopped_by", "INT\n");
        }
        if config.is_daxtrace() {
            put(
                "report.json",
                r#"{"summary": {"totals": {"events": 5}, "drops": {"per_point": {}}, "stuck_waits": 0}}"#,
            );
        }
    }

    fn share_with(skip: Option<(&str, Config)>) -> tempfile::TempDir {
        let share = tempfile::tempdir().unwrap();
        let runs = share.path().join("bench/runs");
        std::fs::create_dir_all(&runs).unwrap();
        std::fs::write(share.path().join("bench.rc"), "0\n").unwrap();
        for w in SMOKE_WORKLOADS {
            for c in Config::for_workload(w, &SMOKE_PIN_WORKLOADS) {
                if skip != Some((w, c)) {
                    put_run(&runs, w, c);
                }
            }
        }
        share
    }

    #[test]
    fn a_smoke_with_every_run_passes() {
        let share = share_with(None);
        let verdict = judge(KernelGen::V6_1, "6.1.0-50-amd64", share.path());
        let text = verdict.unwrap();
        assert!(text.contains("+2 pin variants on dio-dax"), "{text}");
    }

    #[test]
    fn a_smoke_missing_a_pin_variant_fails_and_names_it() {
        let share = share_with(Some(("dio-dax", Config::DaxtraceNoPins)));
        let err = judge(KernelGen::V6_1, "6.1.0-50-amd64", share.path()).unwrap_err();
        assert_eq!(err, "dio-dax: no daxtrace-no-pins throughput");
    }
}
