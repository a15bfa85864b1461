//! The `record` and `export` command lines, run as a user would: on the
//! shipped sample (re-recorded with `--from`, which needs no root), with
//! signals, without privileges, and on damaged files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dax_trace::event::Event;
use dax_trace::testkit::synthetic;
use dax_trace::trace::{End, Reader, Record, Summary};

mod common;
use common::{daxtrace, shipped_sample as sample};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("daxtrace runs")
}

fn read(path: &Path) -> (Vec<Event>, Option<Summary>, End) {
    let mut reader = Reader::open(path).expect("opens");
    let (mut events, mut summary) = (Vec::new(), None);
    for record in reader.by_ref() {
        match record {
            Ok(Record::Event(e)) => events.push(e),
            Ok(Record::Summary(s)) => summary = Some(s),
            Ok(Record::Stack(_) | Record::State(_)) => {}
            Err(_) => break,
        }
    }
    let end = reader.end().cloned().expect("ended");
    (events, summary, end)
}

#[test]
fn record_from_a_trace_writes_a_private_complete_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("copy.dxt");
    let o = run(daxtrace()
        .args(["record", "--from"])
        .arg(sample())
        .arg("-o")
        .arg(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mode = std::fs::metadata(&out).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let (events, summary, end) = read(&out);
    assert_eq!(events, synthetic::scenario());
    assert_eq!(end, End::Complete);
    assert_eq!(
        summary.map(|s| s.end_reason),
        Some("source-ended".to_string())
    );
}

#[test]
fn record_never_overwrites_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("keep.dxt");
    std::fs::write(&out, b"precious").expect("write");
    let o = run(daxtrace()
        .args(["record", "--from"])
        .arg(sample())
        .arg("-o")
        .arg(&out));
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&out).expect("read"), b"precious");
    let o = run(daxtrace()
        .args(["record", "--force", "--from"])
        .arg(sample())
        .arg("-o")
        .arg(&out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&out).2, End::Complete);
}

#[test]
fn record_refuses_to_overwrite_its_own_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.dxt");
    std::fs::copy(sample(), &path).expect("copy");
    let o = run(daxtrace()
        .args(["record", "--force", "--from"])
        .arg(&path)
        .arg("-o")
        .arg(&path));
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("same file"));
    assert_eq!(
        std::fs::read(&path).expect("read"),
        std::fs::read(sample()).expect("read")
    );
}

#[test]
fn live_record_without_privileges_is_refused_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = dir.path().join("live.dxt");
    let mut cmd = daxtrace();
    cmd.args(["record", "--duration", "1s", "-o"]).arg(&out);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Run as nobody: no root, no capabilities.
        cmd.uid(65534).gid(65534);
    }
    let o = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("needs root"), "{stderr}");
    assert!(!out.exists(), "a refused recording left a file");
}

/// Sends `signal` to a slow re-recording; it must finish the file and exit 0.
fn stop_with(signal: libc::c_int, reason: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("slow.dxt");
    // The sample spans about 1.1 s; at 0.01x it would take two minutes.
    let mut child = daxtrace()
        .args(["record", "--speed", "0.01", "--from"])
        .arg(sample())
        .arg("-o")
        .arg(&out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    // Wait for the first flush (the header reaches the file within a second).
    let started = Instant::now();
    while std::fs::metadata(&out).map_or(0, |m| m.len()) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
    let (events, summary, end) = read(&out);
    assert_eq!(end, End::Complete);
    assert_eq!(summary.map(|s| s.end_reason), Some(reason.to_string()));
    let all = synthetic::scenario();
    assert!(events.len() < all.len());
    assert_eq!(events, all[..events.len()]);
}

#[test]
fn sigint_finishes_the_file() {
    stop_with(libc::SIGINT, "interrupted");
}

#[test]
fn sigterm_finishes_the_file() {
    stop_with(libc::SIGTERM, "terminated");
}

#[test]
fn export_says_where_a_damaged_trace_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(sample()).expect("sample");
    let cut = dir.path().join("cut.dxt");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write");
    let o = run(daxtrace()
        .arg("export")
        .arg(&cut)
        .args(["--format", "jsonl", "-o", "-"]));
    assert!(o.status.success());
    // Every event, plus the stack lines before the events naming them.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("{\"type\":\"stack\""))
            .count(),
        synthetic::scenario().len() + 1,
        "the header line and every event"
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("{\"type\":\"header\""),);
    assert!(String::from_utf8_lossy(&o.stderr).contains("truncated at byte"));

    let mut bad = bytes.clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0xff;
    let corrupt = dir.path().join("corrupt.dxt");
    std::fs::write(&corrupt, &bad).expect("write");
    let o = run(daxtrace()
        .arg("export")
        .arg(&corrupt)
        .args(["--format", "perfetto", "-o", "-"]));
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupt at byte"));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("still a valid document");
    assert!(doc["traceEvents"].is_array());
}

/// A trace of the sample's session whose only events are `bodies`, stamped
/// one millisecond apart.
fn crafted_trace(path: &Path, bodies: Vec<dax_trace::event::EventBody>) {
    let header = dax_trace::trace::Header::new(synthetic::session(), Vec::new());
    let mut w = dax_trace::trace::Writer::new(Vec::new(), &header).expect("header");
    for (i, body) in bodies.into_iter().enumerate() {
        w.write_event(&Event::own(1_000_000_000 + i as u64 * 1_000_000, body))
            .expect("event");
    }
    let (_, bytes) = w.finish("source-ended").expect("finish");
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_huge_claim_count_in_a_trace_is_capped_in_every_export() {
    use dax_trace::event::{EventBody, StateDaxDevice, StateEnd};
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("huge.dxt");
    crafted_trace(
        &trace,
        vec![
            EventBody::StateDaxDevice(StateDaxDevice {
                dax_dev: 0xffff_8880_0000_1000,
                disk: "pmem0".into(),
                alive: true.into(),
                claims: 0xFF00_0001,
                ..Default::default()
            }),
            EventBody::StateEnd(StateEnd::default()),
        ],
    );
    for format in ["perfetto", "jsonl"] {
        // Read at most 4 MiB: an unbounded export would write hundreds of GB.
        let mut child = daxtrace()
            .arg("export")
            .arg(&trace)
            .args(["--format", format, "-o", "-"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawns");
        let mut out = Vec::new();
        let stdout = child.stdout.take().expect("stdout");
        std::io::Read::read_to_end(&mut std::io::Read::take(stdout, 4 << 20), &mut out)
            .expect("reads");
        let _ = child.kill();
        let status = child.wait().expect("waits");
        assert!(
            out.len() < 4 << 20,
            "{format}: at least {} bytes for a 2-event trace",
            out.len()
        );
        assert!(status.success(), "{format}: {status}");
        if format == "perfetto" {
            let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
            let events = doc["traceEvents"].as_array().expect("events");
            let held = events.iter().filter(|e| e["ph"] == "B").count();
            assert_eq!(held, 1024);
            let note = events
                .iter()
                .find(|e| e["name"] == "held claims capped at 1024")
                .expect("the output says it was capped");
            assert_eq!(note["args"]["claims_in_trace"], 0xFF00_0001_u64);
        }
    }
}

#[test]
fn export_writes_event_times_in_the_base_asked_for() {
    let o = run(daxtrace()
        .arg("export")
        .arg(sample())
        .args(["--format", "jsonl", "--time", "wall", "-o", "-"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    let first_event: serde_json::Value = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|l| l["ts_ns"].is_u64())
        .expect("an event");
    // The synthetic sample maps CLOCK_MONOTONIC 5 s to 2025-11-24T16:00:05 UTC.
    assert_eq!(first_event["time"], "2025-11-24T16:00:05.000000Z");

    let o = run(daxtrace()
        .arg("export")
        .arg(sample())
        .args(["--format", "perfetto", "--time", "rel", "-o", "-"]));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let first_ts = doc["traceEvents"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["ts"].as_f64())
        .fold(f64::MAX, f64::min);
    assert_eq!(first_ts, 0.0, "relative time starts at the first event");
}
