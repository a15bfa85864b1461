//! Tests of [`super`]: reading runs from the files the guest script leaves.
use super::*;
use serde_json::json;

#[test]
fn fio_iops_adds_reads_and_writes() {
    let doc = json!({"jobs": [{"read": {"iops": 1000.5, "total_ios": 5000},
        "write": {"iops": 20.0, "total_ios": 100}}]});
    assert_eq!(fio_iops(&doc), Some(1020.5));
    assert_eq!(fio_ios(&doc), Some(5100));
    assert_eq!(fio_iops(&json!({"jobs": []})), None);
}

#[test]
fn fio_output_with_a_note_before_the_json_parses() {
    let text = "note: both iodepth >= 1 and synchronous I/O engine\n{\"jobs\": [{\"read\": {\"iops\": 5}, \"write\": {\"iops\": 0}}]}";
    assert_eq!(parse_fio(text).and_then(|d| fio_iops(&d)), Some(5.0));
}

#[test]
fn bpf_stats_lines_parse_and_junk_is_skipped() {
    let got = parse_bpf_stats("fentry_fs_put_d 10 5000\ntp_dax_pte_faul 300 90000\nbroken\n");
    assert_eq!(
        got,
        [
            ("fentry_fs_put_d".to_string(), 10, 5000),
            ("tp_dax_pte_faul".to_string(), 300, 90000)
        ]
    );
}

#[test]
fn cycles_are_ops_per_second() {
    assert_eq!(cycles_rate("50 2000000"), Some(25.0));
    assert_eq!(cycles_rate("50 0"), None);
    assert_eq!(cycles_rate("x"), None);
}

#[test]
fn drops_at_claim_points_are_critical_and_fault_drops_are_not() {
    let claim = POINTS
        .iter()
        .position(|p| p.family == Family::Claim)
        .unwrap();
    let fault = POINTS
        .iter()
        .position(|p| p.family == Family::Fault)
        .unwrap();
    let report = json!({"summary": {"drops": {"per_point": {
        claim.to_string(): 2, fault.to_string(): 40, "999": 1
    }}}});
    assert_eq!(report_drops(&report), (43, 3));
    assert_eq!(report_drops(&json!({})), (0, 0));
}

#[test]
fn a_run_is_read_from_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    put(
        "dio-dax.r2.daxtrace.fio.json",
        r#"{"jobs": [{"read": {"iops": 900.0, "total_ios": 4500}, "write": {"iops": 0.0, "total_ios": 0}}]}"#,
    );
    put("dio-dax.r2.daxtrace.rc", "0\n");
    put("dio-dax.r2.daxtrace.wall_us", "2500000\n");
    put("dio-dax.r2.daxtrace.start_cpu_ticks", "200\n");
    put("dio-dax.r2.daxtrace.cpu_ticks", "237\n");
    put("dio-dax.r2.daxtrace.stopped_by", "INT\n");
    put("dio-dax.r2.daxtrace.max_rss_bytes", "8388608\n");
    put(
        "dio-dax.r2.daxtrace.report.json",
        r#"{"summary": {"totals": {"events": 120}, "drops": {"per_point": {}}, "stuck_waits": 0}}"#,
    );
    let run = read_run(dir.path(), "dio-dax", 2, Config::Daxtrace);
    assert_eq!(run.value, Some(900.0));
    assert_eq!(run.ops, Some(4500));
    assert_eq!(run.rc, Some(0));
    assert_eq!(run.wall_s, Some(2.5));
    assert_eq!(run.cpu_s, Some(0.37));
    assert_eq!(run.startup_cpu_s, Some(2.0));
    assert!(run.notes.is_empty(), "{:?}", run.notes);
    assert_eq!(run.max_rss_bytes, Some(8 << 20));
    assert_eq!(run.events, Some(120));
    assert_eq!(run.drops, Some(0));
    let missing = read_run(dir.path(), "dio-dax", 3, Config::Daxtrace);
    assert_eq!(missing.value, None);
    assert_eq!(missing.events, None);
}

#[test]
fn a_window_of_a_session_takes_its_events_bpf_times_and_the_sessions_attach() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let claim = POINTS
        .iter()
        .position(|p| p.family == Family::Claim)
        .unwrap();
    let tag = "mount-cycles.r1.daxtrace";
    put(&format!("{tag}.session"), "r1.daxtrace\n");
    put(&format!("{tag}.window_begin_ns"), "1000\n");
    put(&format!("{tag}.window_end_ns"), "2000\n");
    put(&format!("{tag}.attach_cpu_ticks"), "1500\n");
    put(&format!("{tag}.start_cpu_ticks"), "1700\n");
    put(&format!("{tag}.cpu_ticks"), "1750\n");
    put(&format!("{tag}.bpf_stats_begin"), "fentry_claim 10 1000\n");
    put(&format!("{tag}.bpf_stats"), "fentry_claim 14 1800\n");
    put(&format!("{tag}.cycles"), "10 1000000\n");
    let ev = |ts: u64, body: String| format!(r#"{{"ts_ns":{ts},"point":3,"body":{body}}}"#);
    put(
        "r1.daxtrace.jsonl",
        &[
            ev(500, r#"{"type":"claim"}"#.into()),
            ev(1200, r#"{"type":"claim"}"#.into()),
            ev(1900, r#"{"type":"release"}"#.into()),
            ev(
                1950,
                format!(r#"{{"type":"drops","point":{claim},"total":3}}"#),
            ),
            ev(2500, r#"{"type":"claim"}"#.into()),
        ]
        .join("\n"),
    );
    let run = read_run(dir.path(), "mount-cycles", 1, Config::Daxtrace);
    assert_eq!(run.value, Some(10.0));
    assert_eq!(run.events, Some(2));
    assert_eq!((run.drops, run.critical_drops), (Some(3), Some(3)));
    assert_eq!(run.startup_cpu_s, Some(15.0));
    assert_eq!(run.cpu_s, Some(0.5));
    assert_eq!(run.bpf_programs, [("fentry_claim".to_string(), 4, 800)]);
    // A start reading cut short is not subtracted from.
    put(&format!("{tag}.bpf_stats_begin"), "");
    let cut = read_run(dir.path(), "mount-cycles", 1, Config::Daxtrace);
    assert!(cut.bpf_programs.is_empty());
    assert!(
        cut.notes
            .iter()
            .any(|n| n.contains("0 programs read at the window's start, 1")),
        "{:?}",
        cut.notes
    );
    std::fs::remove_file(dir.path().join("r1.daxtrace.jsonl")).unwrap();
    let lost = read_run(dir.path(), "mount-cycles", 1, Config::Daxtrace);
    assert_eq!(lost.events, None);
    assert!(
        lost.notes.iter().any(|n| n.contains("r1.daxtrace.jsonl")),
        "{:?}",
        lost.notes
    );
}

#[test]
fn an_attribution_window_reads_its_sessions_trace_and_a_failed_scrape_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let tag = "futex-pingpong.r1.daxtrace-attr";
    put(&format!("{tag}.session"), "r1.daxtrace\n");
    put(&format!("{tag}.window_begin_ns"), "1000\n");
    put(&format!("{tag}.window_end_ns"), "2000\n");
    put(&format!("{tag}.cycles"), "5000 2000000\n");
    put(&format!("{tag}.bpf_stats_begin"), "fexit_get_user_ 0 0\n");
    put(
        &format!("{tag}.bpf_stats"),
        "fexit_get_user_ 20000 900000\n",
    );
    put(
        "r1.daxtrace.jsonl",
        r#"{"ts_ns":1500,"point":3,"body":{"type":"claim"}}"#,
    );
    let run = read_run(dir.path(), "futex-pingpong", 1, Config::DaxtraceAttribution);
    assert_eq!(run.value, Some(2500.0));
    assert_eq!(run.ops, Some(5000));
    assert_eq!(run.events, Some(1));
    assert_eq!(
        run.bpf_programs,
        [("fexit_get_user_".to_string(), 20000, 900000)]
    );
    let serve = "futex-pingpong.r1.serve";
    put(&format!("{serve}.cycles"), "4000 2000000\n");
    put(&format!("{serve}.scrape_rc"), "1\n");
    let run = read_run(dir.path(), "futex-pingpong", 1, Config::Serve);
    assert_eq!(run.value, Some(2000.0));
    assert_eq!(run.notes, ["scrape of /metrics failed (wget exit 1)"]);
    assert!(run.bpf_programs.is_empty());
    put(&format!("{serve}.scrape_rc"), "0\n");
    assert!(
        read_run(dir.path(), "futex-pingpong", 1, Config::Serve)
            .notes
            .is_empty()
    );
}
