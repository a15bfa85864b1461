//! Faults counted in the kernel (`fault-counts` events, what a recording
//! has by default) read in `report` and `check` as the same faults sent one
//! record each (what `record --fault-events` and every trace up to format 5
//! have): the same device counts, the same verdict. A format-5 trace (the
//! synthetic sample as format 5 wrote it, kept in
//! `tests/fixtures/synthetic-6.1-v5.dxt`) still reads with its records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod trace_file;
use std::path::{Path, PathBuf};
use std::process::Command;

use dax_trace::event::{Event, EventBody, FaultCounts};
use dax_trace::testkit::synthetic;
use serde_json::Value;
use trace_file::write_trace;

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("runs daxtrace");
    let text = String::from_utf8(out.stdout).expect("utf-8")
        + &String::from_utf8(out.stderr).expect("utf-8");
    (out.status.code().unwrap_or(-1), text)
}

fn report(trace: &Path) -> Value {
    let (code, out) = run(&["report", trace.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).expect("report JSON")
}

/// (disk, faults) of every device of a `report --json`.
fn device_faults(report: &Value) -> Vec<(String, Value)> {
    report["summary"]["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| (d["identity"]["disk"].to_string(), d["faults"].clone()))
        .collect()
}

fn by_kind(report: &Value, kind: &str) -> u64 {
    report["summary"]["totals"]["by_kind"][kind]
        .as_u64()
        .unwrap_or(0)
}

/// `events` with each run of consecutive `fault` records of one device,
/// size and result replaced by one `fault-counts` of the run's length at
/// the run's last fault, as the recorder's once-a-second reading does.
fn counted(events: &[Event]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    let mut run: Option<(Event, FaultCounts)> = None;
    for e in events {
        if let EventBody::Fault(f) = e.body {
            match &mut run {
                Some((last, c)) if c.dev == f.dev && c.pmd == f.pmd && c.result == f.result => {
                    c.count += 1;
                    last.ts_ns = e.ts_ns;
                }
                _ => {
                    out.extend(run.take().map(|(at, c)| Event::own(at.ts_ns, c.into())));
                    let c = FaultCounts {
                        dev: f.dev,
                        pmd: f.pmd,
                        result: f.result,
                        count: 1,
                        ..FaultCounts::default()
                    };
                    run = Some((e.clone(), c));
                }
            }
            continue;
        }
        out.extend(run.take().map(|(at, c)| Event::own(at.ts_ns, c.into())));
        out.push(e.clone());
    }
    out.extend(run.take().map(|(at, c)| Event::own(at.ts_ns, c.into())));
    out
}

#[test]
fn counted_faults_report_and_check_like_fault_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = synthetic::scenario();
    let recorded = write_trace(dir.path(), "records.dxt", &scenario);
    let counted_events = counted(&scenario);
    assert!(
        counted_events.len() < scenario.len(),
        "runs of faults were folded"
    );
    let counts = write_trace(dir.path(), "counts.dxt", &counted_events);
    let (a, b) = (report(&recorded), report(&counts));
    let faults = device_faults(&a);
    assert!(
        faults.iter().any(|(_, f)| f["pte"].as_u64() > Some(0)),
        "the scenario faults: {faults:?}"
    );
    assert_eq!(device_faults(&b), faults);
    assert_eq!(by_kind(&a, "fault-counts"), 0);
    assert!(by_kind(&b, "fault-counts") > 0);
    assert_eq!(
        by_kind(&b, "fault"),
        0,
        "by_kind counts the events as they are"
    );
    let verdict = |t: &PathBuf| {
        let (code, out) = run(&["check", t.to_str().unwrap(), "--format", "json"]);
        let v: Value = serde_json::from_str(&out).expect("check JSON");
        (code, v["outcome"].clone(), v["assertions"].clone())
    };
    assert_eq!(verdict(&counts), verdict(&recorded));
}

#[test]
fn a_format_5_trace_still_reads_its_fault_records() {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let v5 = manifest.join("tests/fixtures/synthetic-6.1-v5.dxt");
    let current = manifest.join("../samples/synthetic-6.1.dxt");
    let version = |p: &Path| {
        let bytes = std::fs::read(p).expect("reads");
        u32::from_le_bytes(bytes[8..12].try_into().expect("preamble"))
    };
    assert_eq!(version(&v5), 5);
    assert_eq!(version(&current), dax_trace::trace::FORMAT_VERSION);
    let (old, new) = (report(&v5), report(&current));
    assert!(by_kind(&old, "fault") > 0, "its faults are records");
    assert_eq!(device_faults(&old), device_faults(&new));
    assert_eq!(old["summary"], new["summary"]);
}

#[test]
fn fault_events_is_a_live_option_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("copy.dxt");
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/synthetic-6.1.dxt");
    let (code, text) = run(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--from",
        sample,
        "--fault-events",
    ]);
    assert_eq!(code, 3, "a usage error: {text}");
    assert!(text.contains("'--fault-events'"), "{text}");
    assert!(!out.exists(), "nothing written");
}
