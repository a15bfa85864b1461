//! `daxtrace record --ring`, the flight recorder, run as a user would on
//! the shipped sample (replayed with `--from`, no root needed), which ends
//! in a lost wakeup: the dump it writes must be a trace `check`, `report`
//! and `export` read on their own, that `check` fails on the stuck wait;
//! SIGUSR1 dumps; absurd sizes and triggers are refused before anything is
//! made.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;

use dax_trace::trace::Reader;

mod common;
use common::{daxtrace, shipped_sample as sample};

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_lost_wakeup_leaves_a_dump_that_check_fails_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = daxtrace()
        .args([
            "record",
            "--ring",
            "1M",
            "--trigger",
            "stuck-wait",
            "--from",
        ])
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("flight.dxt"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(files_in(dir.path()), vec!["flight.0001.dxt"], "{stderr}");
    let dump = dir.path().join("flight.0001.dxt");
    assert!(stderr.contains("flight.0001.dxt (stuck-wait"), "{stderr}");
    let reader = Reader::open(&dump).expect("a trace");
    assert_eq!(reader.header().flight_window(), Some("stuck-wait"));

    let check = daxtrace()
        .args(["check", "--format", "json"])
        .arg(&dump)
        .output()
        .expect("runs");
    assert_eq!(check.status.code(), Some(1), "check fails");
    let verdict: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
    let status = |id: &str| {
        verdict["assertions"]
            .as_array()
            .expect("assertions")
            .iter()
            .find(|a| a["id"] == id)
            .map(|a| {
                (
                    a["status"].as_str().unwrap_or("").to_string(),
                    a["details"].to_string(),
                )
            })
            .unwrap_or_else(|| panic!("no {id} in {verdict}"))
    };
    let (stuck, details) = status("no-stuck-waits");
    assert_eq!(stuck, "fail");
    assert!(details.contains("sleeps on idle pfn"), "{details}");
    let (window, details) = status("trace-window");
    assert_eq!(window, "inconclusive");
    assert!(details.contains("dumped on stuck-wait"), "{details}");

    // The other readers take it as any trace.
    let report = daxtrace().arg("report").arg(&dump).output().expect("runs");
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let jsonl = dir.path().join("dump.jsonl");
    let export = daxtrace()
        .args(["export", "--format", "jsonl", "-o"])
        .arg(&jsonl)
        .arg(&dump)
        .output()
        .expect("runs");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let text = std::fs::read_to_string(&jsonl).expect("jsonl");
    assert!(
        text.contains("flight-window=stuck-wait"),
        "the header says it"
    );
    assert!(text.contains("\"stuck-wait\""));
    assert!(
        text.contains("\"state-end\""),
        "the state at start is in it"
    );
}

#[test]
fn a_run_without_a_trigger_writes_nothing_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = daxtrace()
        .args(["record", "--ring", "64K", "--trigger", "none", "--from"])
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("flight"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(files_in(dir.path()).is_empty(), "{stderr}");
    assert!(stderr.contains("0 dumps written"), "{stderr}");
    // Asked for, the end of the run dumps the ring.
    let o = daxtrace()
        .args([
            "record",
            "--ring",
            "64K",
            "--trigger",
            "none",
            "--dump-on-exit",
            "--from",
        ])
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("flight"))
        .output()
        .expect("runs");
    assert!(o.status.success());
    assert_eq!(files_in(dir.path()), vec!["flight.0001.dxt"]);
    let reader = Reader::open(dir.path().join("flight.0001.dxt")).expect("a trace");
    assert_eq!(reader.header().flight_window(), Some("exit"));
}

#[test]
fn sigusr1_writes_a_dump_and_the_recorder_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The sample spans about 1.1 s; at a quarter of its pace the replay
    // lasts some 4.5 s.
    let mut child = daxtrace()
        .args([
            "record",
            "--ring",
            "1M",
            "--trigger",
            "none",
            "--speed",
            "0.25",
            "--from",
        ])
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("flight"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    // The handler is installed before this line is printed.
    while stderr.read_line(&mut line).expect("reads") > 0 && !line.contains("flight recorder,") {
        line.clear();
    }
    assert!(line.contains("SIGUSR1"), "{line}");
    // SAFETY: kill only sends a signal to the child.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGUSR1) },
        0
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("reads");
    let status = child.wait().expect("waits");
    assert!(status.success(), "{rest}");
    assert_eq!(files_in(dir.path()), vec!["flight.0001.dxt"], "{rest}");
    let reader = Reader::open(dir.path().join("flight.0001.dxt")).expect("a trace");
    assert_eq!(reader.header().flight_window(), Some("sigusr1"));
    assert!(
        rest.contains("source-ended"),
        "it ran on to the end: {rest}"
    );
}

#[test]
fn absurd_sizes_and_triggers_are_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("flight");
    for (args, says) in [
        (vec!["--ring", "0"], "out of range"),
        (vec!["--ring", "8G"], "out of range"),
        (vec!["--ring", "lots"], "not a size"),
        (vec!["--ring", "64X"], "not a size"),
        (
            vec!["--ring", "1M", "--trigger", "stuck"],
            "unknown trigger",
        ),
        (vec!["--trigger", "stuck-wait"], "--ring"),
        (vec!["--ring", "1M", "--force"], "cannot be used with"),
    ] {
        let o = daxtrace()
            .arg("record")
            .args(&args)
            .arg("--from")
            .arg(sample())
            .arg("-o")
            .arg(&prefix)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let o = daxtrace()
        .args(["record", "--ring", "1M", "--from"])
        .arg(sample())
        .arg("-o")
        .arg(dir.path().join("no/such/dir/flight"))
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/dir"));
    assert!(files_in(dir.path()).is_empty());
}
