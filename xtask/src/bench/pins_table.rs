//! The second table of `cargo xtask bench overhead`: what pin-owner tracking
//! and kernel stacks cost, on the workloads that ran `daxtrace record
//! --no-stacks` and `--no-pins` beside the full recorder (the O_DIRECT ones).
use std::fmt::Write as _;

use super::render::{num, pct};
use super::table::Row;

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
         | kernel | workload | clock | metric | untraced | full | no-stacks | no-pins | full/untraced | no-stacks/untraced | no-pins/untraced | recorder CPU s/window full | no-stacks | no-pins |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in pinned {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.release,
            r.workload,
            r.clock,
            r.metric,
            num(r.untraced),
            num(r.daxtrace),
            num(r.daxtrace_no_stacks),
            num(r.daxtrace_no_pins),
            pct(r.daxtrace_ratio),
            pct(r.daxtrace_no_stacks_ratio),
            pct(r.daxtrace_no_pins_ratio),
            secs(r.cpu_s),
            secs(r.daxtrace_no_stacks_cpu_s),
            secs(r.daxtrace_no_pins_cpu_s),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::runs::Config;
    use super::super::table::WorkloadRuns;
    use super::super::table::tests::{round, run, traced};
    use super::*;

    /// A round with the A/A pair at `u`, the full recorder and both variants.
    fn pins_round(u: f64, full: f64, no_stacks: f64, no_pins: f64) -> super::super::table::Round {
        round(
            u,
            u,
            &[
                (Config::Daxtrace, traced(full, 100, 0)),
                (Config::DaxtraceNoStacks, traced(no_stacks, 100, 0)),
                (Config::DaxtraceNoPins, traced(no_pins, 90, 0)),
            ],
        )
    }

    fn runs(
        workload: &str,
        configs: Vec<Config>,
        rounds: Vec<super::super::table::Round>,
    ) -> WorkloadRuns<'_> {
        WorkloadRuns {
            kernel: "6.1",
            release: "6.1.0-50-amd64",
            workload,
            clock: "icount",
            configs,
            rounds,
        }
    }

    #[test]
    fn pin_variants_get_their_own_medians_and_ratios() {
        let w = runs(
            "dio-dax",
            Config::ALL.to_vec(),
            vec![
                pins_round(1000.0, 900.0, 950.0, 990.0),
                pins_round(500.0, 450.0, 480.0, 495.0),
                pins_round(1000.0, 920.0, 940.0, 980.0),
            ],
        );
        let row = w.row();
        assert_eq!(row.daxtrace_no_stacks, Some(940.0));
        assert_eq!(row.daxtrace_no_pins, Some(980.0));
        // Per-round ratios: 0.95, 0.96, 0.94 and 0.99, 0.99, 0.98.
        assert_eq!(row.daxtrace_no_stacks_ratio, Some(0.95));
        assert_eq!(row.daxtrace_no_pins_ratio, Some(0.99));
        assert_eq!(row.daxtrace_no_stacks_cpu_s, Some(0.5));
        let table = render(std::slice::from_ref(&row)).unwrap();
        assert!(
            table.contains(
                "| 6.1.0-50-amd64 | dio-dax | icount | IOPS | 1000 | 900 | 940 | 980 | 90.0% | 95.0% | 99.0% | 0.50 | 0.50 | 0.50 |"
            ),
            "{table}"
        );
    }

    #[test]
    fn workloads_without_the_variants_have_nulls_and_no_pin_table() {
        // Stray files of a variant on a workload that does not run it are ignored.
        let mut r = round(1000.0, 1000.0, &[(Config::Daxtrace, traced(990.0, 10, 0))]);
        r[Config::DaxtraceNoPins.index()] = traced(10.0, 1, 5);
        let w = runs("mmap-ext4-randread", Config::BASE.to_vec(), vec![r]);
        let row = w.row();
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
        let mut r = pins_round(1000.0, 900.0, 950.0, 990.0);
        r[Config::DaxtraceNoPins.index()].value = None;
        r[Config::DaxtraceNoStacks.index()].drops = Some(7);
        r[Config::DaxtraceNoStacks.index()].critical_drops = Some(2);
        let row = runs("dio-anon", Config::ALL.to_vec(), vec![r]).row();
        assert_eq!(row.complete_rounds, 0);
        assert_eq!(row.daxtrace_no_pins, None);
        assert_eq!(row.daxtrace_no_stacks, Some(950.0));
        assert_eq!(row.notes, ["r1 daxtrace-no-stacks: 7 drops (2 critical)"]);
        let _ = run(1.0);
    }

    #[test]
    fn rows_of_an_older_json_still_read() {
        let old = r#"{"kernel":"6.1","release":"6.1","workload":"dio-dax","metric":"IOPS",
            "untraced":1.0,"daxtrace":1.0,"bpftrace":1.0,"daxtrace_ratio":1.0,"bpftrace_ratio":1.0,
            "events_per_s":null,"drops":0,"critical_drops":0,"cpu_s":null,"max_rss_bytes":null,
            "bpf_ns_per_op":12.5,
            "complete_rounds":1,"stuck_waits":0,"notes":[]}"#;
        let row: Row = serde_json::from_str(old).unwrap();
        assert_eq!(row.daxtrace_no_pins_ratio, None);
        assert_eq!(row.untraced, Some(1.0));
        assert_eq!(row.clock, "");
    }
}
