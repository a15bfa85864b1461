//! The second table of `cargo xtask bench overhead`: what pin-owner tracking
//! and kernel stacks cost, on the workloads that ran `daxtrace record
//! --no-stacks` and `--no-pins` beside the full recorder (the O_DIRECT ones).
use std::fmt::Write as _;

use super::table::{Row, num, pct};

fn ns(ns: Option<f64>) -> String {
    ns.map_or("-".into(), |ns| format!("{ns:.0}"))
}

fn secs(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.2}"))
}

/// The pin-tracking table of `rows` that ran a pin variant; None when none did.
pub fn render(rows: &[Row]) -> Option<String> {
    let pinned: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.daxtrace_no_stacks.is_some()
                || r.daxtrace_no_pins.is_some()
                || r.daxtrace_no_stacks_ratio.is_some()
                || r.daxtrace_no_pins_ratio.is_some()
        })
        .collect();
    if pinned.is_empty() {
        return None;
    }
    let mut out = String::from(
        "Pin tracking and stacks (full = `daxtrace record`; no-stacks = `--no-stacks`; no-pins = `--no-pins`):\n\n\
         | kernel | workload | metric | untraced | full | no-stacks | no-pins | full/untraced | no-stacks/untraced | no-pins/untraced | BPF ns/op full | no-stacks | no-pins | bpftrace | recorder CPU s/run full | no-stacks | no-pins |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in pinned {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.release,
            r.workload,
            r.metric,
            num(r.untraced),
            num(r.daxtrace),
            num(r.daxtrace_no_stacks),
            num(r.daxtrace_no_pins),
            pct(r.daxtrace_ratio),
            pct(r.daxtrace_no_stacks_ratio),
            pct(r.daxtrace_no_pins_ratio),
            ns(r.bpf_ns_per_op),
            ns(r.daxtrace_no_stacks_bpf_ns_per_op),
            ns(r.daxtrace_no_pins_bpf_ns_per_op),
            ns(r.bpftrace_bpf_ns_per_op),
            secs(r.cpu_s),
            secs(r.daxtrace_no_stacks_cpu_s),
            secs(r.daxtrace_no_pins_cpu_s),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::runs::{Config, Run};
    use super::super::table::WorkloadRuns;
    use super::super::table::tests::{base, run, traced};
    use super::*;

    fn with_bpf(mut r: Run, programs: &[(&str, u64, u64)]) -> Run {
        r.ops = Some(1000);
        r.bpf_programs = programs
            .iter()
            .map(|(n, c, ns)| (n.to_string(), *c, *ns))
            .collect();
        r
    }

    /// A round of all five configurations: untraced, full, bpftrace, no-stacks, no-pins.
    fn round(values: [f64; 5], bpf_ns: [u64; 3]) -> [Run; 5] {
        let [u, d, b, s, p] = values;
        let [dn, sn, pn] = bpf_ns;
        let mut r = base(
            run(u),
            with_bpf(
                traced(d, 100, 0),
                &[("fexit_gup", 10, dn / 2), ("tp_x", 5, dn / 2)],
            ),
            with_bpf(run(b), &[("kprobe_get_use", 10, 700_000)]),
        );
        r[Config::DaxtraceNoStacks.index()] = with_bpf(traced(s, 100, 0), &[("fexit_gup", 10, sn)]);
        r[Config::DaxtraceNoPins.index()] = with_bpf(traced(p, 90, 0), &[("fexit_gup", 10, pn)]);
        r
    }

    #[test]
    fn pin_variants_get_their_own_medians_ratios_and_bpf_time() {
        let w = WorkloadRuns {
            kernel: "6.1",
            release: "6.1.0-50-amd64",
            workload: "dio-dax",
            configs: Config::ALL.to_vec(),
            rounds: vec![
                round(
                    [1000.0, 900.0, 800.0, 950.0, 990.0],
                    [4_000_000, 2_000_000, 1_000_000],
                ),
                round(
                    [500.0, 450.0, 400.0, 480.0, 495.0],
                    [6_000_000, 3_000_000, 1_000_000],
                ),
                round(
                    [1000.0, 920.0, 820.0, 940.0, 980.0],
                    [5_000_000, 2_500_000, 2_000_000],
                ),
            ],
        };
        let row = w.row();
        assert_eq!(row.complete_rounds, 3);
        assert_eq!(row.daxtrace_no_stacks, Some(940.0));
        assert_eq!(row.daxtrace_no_pins, Some(980.0));
        // Per-round ratios: 0.95, 0.96, 0.94 and 0.99, 0.99, 0.98.
        assert_eq!(row.daxtrace_no_stacks_ratio, Some(0.95));
        assert_eq!(row.daxtrace_no_pins_ratio, Some(0.99));
        // BPF run time: all programs of a run summed, median over runs.
        assert_eq!(row.bpf_run_ns, Some(5_000_000.0));
        assert_eq!(row.daxtrace_no_stacks_bpf_run_ns, Some(2_500_000.0));
        assert_eq!(row.daxtrace_no_pins_bpf_run_ns, Some(1_000_000.0));
        // 1000 operations per run.
        assert_eq!(row.bpf_ns_per_op, Some(5000.0));
        assert_eq!(row.daxtrace_no_pins_bpf_ns_per_op, Some(1000.0));
        assert_eq!(row.daxtrace_no_stacks_cpu_s, Some(0.5));
        let table = render(std::slice::from_ref(&row)).unwrap();
        assert!(
            table.contains(
                "| 6.1.0-50-amd64 | dio-dax | IOPS | 1000 | 900 | 940 | 980 | 90.0% | 95.0% | 99.0% | 5000 | 2500 | 1000 | 700 |"
            ),
            "{table}"
        );
    }

    #[test]
    fn workloads_without_the_variants_have_nulls_and_no_pin_table() {
        // Stray files of a variant on a workload that does not run it are ignored.
        let mut r = base(run(1000.0), traced(990.0, 10, 0), run(900.0));
        r[Config::DaxtraceNoPins.index()] = traced(10.0, 1, 5);
        let w = WorkloadRuns {
            kernel: "7",
            release: "7.2",
            workload: "mmap-ext4-randread",
            configs: Config::BASE.to_vec(),
            rounds: vec![r],
        };
        let row = w.row();
        assert_eq!(row.complete_rounds, 1);
        assert_eq!(row.daxtrace_no_pins, None);
        assert_eq!(row.daxtrace_no_pins_ratio, None);
        assert_eq!(row.daxtrace_no_stacks, None);
        assert!(row.notes.is_empty(), "{:?}", row.notes);
        assert_eq!(render(&[row]), None);
        let json = serde_json::to_value(w.row()).unwrap();
        assert!(json["daxtrace_no_stacks_ratio"].is_null());
        assert!(json["daxtrace_no_pins"].is_null());
    }

    #[test]
    fn a_missing_variant_run_makes_the_round_incomplete_and_variant_drops_are_said() {
        let mut r = round([1000.0, 900.0, 800.0, 950.0, 990.0], [3, 2, 1]);
        r[Config::DaxtraceNoPins.index()].value = None;
        r[Config::DaxtraceNoStacks.index()].drops = Some(7);
        r[Config::DaxtraceNoStacks.index()].critical_drops = Some(2);
        let w = WorkloadRuns {
            kernel: "6.1",
            release: "6.1",
            workload: "dio-anon",
            configs: Config::ALL.to_vec(),
            rounds: vec![r],
        };
        let row = w.row();
        assert_eq!(row.complete_rounds, 0);
        assert_eq!(row.daxtrace_no_pins, None);
        assert_eq!(row.daxtrace_no_stacks, Some(950.0));
        assert_eq!(row.notes, ["r1 daxtrace-no-stacks: 7 drops (2 critical)"]);
    }

    #[test]
    fn rows_of_an_older_json_without_the_variant_fields_still_read() {
        let old = r#"{"kernel":"6.1","release":"6.1","workload":"dio-dax","metric":"IOPS",
            "untraced":1.0,"daxtrace":1.0,"bpftrace":1.0,"daxtrace_ratio":1.0,"bpftrace_ratio":1.0,
            "events_per_s":null,"drops":0,"critical_drops":0,"cpu_s":null,"max_rss_bytes":null,
            "startup_cpu_s":null,"bpftrace_startup_cpu_s":null,"bpftrace_cpu_s":null,
            "bpftrace_max_rss_bytes":null,"complete_rounds":1,"stuck_waits":0,"notes":[]}"#;
        let row: Row = serde_json::from_str(old).unwrap();
        assert_eq!(row.daxtrace_no_pins_ratio, None);
        assert_eq!(row.untraced, Some(1.0));
    }
}
