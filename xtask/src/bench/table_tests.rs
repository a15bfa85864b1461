//! Tests of [`super`]: A/A pairs, ratios against their mean, medians and the table.
use super::*;

pub(in crate::bench) fn run(value: f64) -> Run {
    Run {
        value: Some(value),
        ops: Some((value * 2.0) as u64),
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

/// A round: the A/A pair, then each base configuration's run by name.
pub(in crate::bench) fn round(a: f64, b: f64, others: &[(Config, Run)]) -> Round {
    let mut r: Round = Default::default();
    r[Config::Untraced.index()] = run(a);
    r[Config::UntracedRepeat.index()] = run(b);
    for (c, run) in others {
        r[c.index()] = run.clone();
    }
    r
}

fn runs<'a>(workload: &'a str, clock: &'a str, rounds: Vec<Round>) -> WorkloadRuns<'a> {
    WorkloadRuns {
        kernel: "6.1",
        release: "6.1.0-50-amd64",
        workload,
        clock,
        configs: Config::BASE.to_vec(),
        rounds,
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
fn an_aa_pair_gives_its_mean_and_spread() {
    assert_eq!(aa_pair(990.0, 1010.0), Some((1000.0, 0.02)));
    assert_eq!(aa_pair(1000.0, 1000.0), Some((1000.0, 0.0)));
    assert_eq!(aa_pair(0.0, 0.0), None);
}

#[test]
fn ratios_are_against_the_mean_of_the_same_rounds_pair() {
    // The host got slower in round 2: per-round ratios see no cost.
    let w = runs(
        "dio-dax",
        "icount",
        vec![
            round(
                990.0,
                1010.0,
                &[
                    (Config::Daxtrace, traced(990.0, 200, 0)),
                    (Config::Bpftrace, run(900.0)),
                    (Config::After, run(1000.0)),
                ],
            ),
            round(
                500.0,
                500.0,
                &[
                    (Config::Daxtrace, traced(495.0, 100, 3)),
                    (Config::Bpftrace, run(450.0)),
                    (Config::After, run(500.0)),
                ],
            ),
            round(
                1000.0,
                1000.0,
                &[
                    (Config::Daxtrace, traced(980.0, 200, 0)),
                    (Config::Bpftrace, run(880.0)),
                    (Config::After, run(1001.0)),
                ],
            ),
        ],
    );
    let row = w.row();
    assert_eq!(row.metric, "IOPS");
    assert_eq!(row.clock, "icount");
    assert_eq!(row.untraced, Some(1000.0));
    // The largest spread of the three pairs.
    assert_eq!(row.aa_spread, Some(0.02));
    assert_eq!(row.daxtrace_ratio, Some(0.99));
    assert_eq!(row.bpftrace_ratio, Some(0.9));
    assert_eq!(row.after_ratio, Some(1.0));
    assert_eq!(row.events_per_s, Some(100.0));
    assert_eq!(row.drops, Some(3));
    assert_eq!(row.critical_drops, Some(0));
    // Not every base configuration ran: no complete round.
    assert_eq!(row.complete_rounds, 0);
    assert_eq!(row.goals.keeps_98, Some(true));
    assert_eq!(row.goals.aa_spread_within_0_5, Some(false));
    let table = render(&[row]);
    assert!(
        table.contains(
            "| 6.1.0-50-amd64 | dio-dax | icount | IOPS | 1000 | 2.00% | 99.0% | 90.0% | - | - | - | 100.0% |"
        ),
        "{table}"
    );
    assert!(table.contains("daxtrace BPF instructions/op"), "{table}");
    assert!(
        table.contains("| 6.1.0-50-amd64 | dio-dax | met | missed | - |"),
        "{table}"
    );
}

#[test]
fn attribution_windows_give_instructions_per_op_under_icount_and_ns_otherwise() {
    let attribution = |insns: u64| Run {
        bpf_programs: vec![
            ("fexit_get_user_".into(), 1000, insns),
            ("tp_dax_pte_faul".into(), 0, 0),
        ],
        ..run(500.0)
    };
    // run(500) did 1000 operations.
    let rounds = || {
        vec![
            round(
                500.0,
                500.0,
                &[(Config::DaxtraceAttribution, attribution(300_000))],
            ),
            round(
                500.0,
                500.0,
                &[(Config::DaxtraceAttribution, attribution(500_000))],
            ),
        ]
    };
    let row = runs("dio-anon", "icount", rounds()).row();
    assert_eq!(row.bpf_insns_per_op, Some(400.0));
    assert_eq!(row.bpf_ns_per_op, None);
    assert_eq!(
        row.bpf_programs,
        [BpfProgram {
            name: "fexit_get_user_".into(),
            runs: 2000,
            insns: Some(800_000),
            ns: None,
            runs_per_op: Some(1.0),
            insns_per_op: Some(400.0),
            ns_per_op: None,
        }]
    );
    let json = serde_json::to_string(&row.bpf_programs).unwrap();
    assert!(
        json.contains("\"insns\":800000") && !json.contains("\"ns\""),
        "{json}"
    );
    let tcg = runs("dio-anon", "tcg", rounds()).row();
    assert_eq!(tcg.bpf_insns_per_op, None);
    assert_eq!(tcg.bpf_ns_per_op, Some(400.0));
    assert_eq!(tcg.bpf_programs[0].ns, Some(800_000));
    assert!(render(&[tcg]).contains("instructions (icount) or ns/op"));
}

#[test]
fn one_run_of_the_pair_is_the_baseline_without_a_spread() {
    let mut r = round(0.0, 800.0, &[(Config::Serve, run(792.0))]);
    r[Config::Untraced.index()].value = None;
    let row = runs("dio-anon", "icount", vec![r]).row();
    assert_eq!(row.untraced, Some(800.0));
    assert_eq!(row.aa_spread, None);
    assert_eq!(row.serve_ratio, Some(0.99));
    assert_eq!(row.goals.serve_keeps_99, Some(true));
}

#[test]
fn a_failed_run_is_left_out_and_said() {
    let mut failed = run(0.0);
    failed.value = None;
    failed.notes.push("tracer bpftrace did not start".into());
    let mut w = runs(
        "mount-cycles",
        "tcg",
        vec![round(10.0, 10.0, &[(Config::Bpftrace, failed)])],
    );
    w.release = "7.2";
    let row = w.row();
    assert_eq!(row.metric, "ops/s");
    assert_eq!(row.bpftrace, None);
    assert_eq!(row.bpftrace_ratio, None);
    assert_eq!(row.notes, ["r1 bpftrace: tracer bpftrace did not start"]);
    assert!(render(&[row]).contains("Notes:\n- 7.2 mount-cycles: r1 bpftrace"));
}
