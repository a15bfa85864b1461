//! A source that fails is not the end of a trace. Replaying a trace whose
//! tail is cut (the replay source fails there): `record --from` exits
//! non-zero and leaves its output without a summary (it reads as
//! truncated, so `check` on it is inconclusive, like on the input).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dax_trace::event::{Event, EventBody};
use dax_trace::testkit::synthetic;
use dax_trace::trace::{End, Header, Reader, Record, Writer};

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

/// The synthetic scenario without its lost wakeup and drops (it passes
/// `check`), written complete, then with its summary cut off.
fn cut_healthy_trace(dir: &Path) -> (PathBuf, PathBuf, Vec<Event>) {
    let events: Vec<Event> = synthetic::scenario()
        .into_iter()
        .filter(|e| !matches!(e.body, EventBody::StuckWait(_) | EventBody::Drops(_)))
        .collect();
    let header = Header::new(synthetic::session(), Vec::new());
    let mut w = Writer::new(Vec::new(), &header).expect("header");
    for e in &events {
        w.write_event(e).expect("event");
    }
    let (_, bytes) = w.finish("source-ended").expect("finish");
    let whole = dir.join("whole.dxt");
    std::fs::write(&whole, &bytes).expect("write");
    let cut = dir.join("cut.dxt");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).expect("write");
    (whole, cut, events)
}

fn read(path: &Path) -> (Vec<Event>, End) {
    let mut reader = Reader::open(path).expect("opens");
    let mut events = Vec::new();
    for record in reader.by_ref() {
        if let Ok(Record::Event(e)) = record {
            events.push(e);
        }
    }
    (events, reader.end().cloned().expect("ended"))
}

#[test]
fn record_from_a_failing_source_leaves_an_incomplete_file_and_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (whole, cut, events) = cut_healthy_trace(dir.path());
    let (whole, cut) = (whole.to_str().unwrap(), cut.to_str().unwrap());
    assert_eq!(run(&["check", whole]).status.code(), Some(0));
    assert_eq!(run(&["check", cut]).status.code(), Some(2));

    let out = dir.path().join("y.dxt");
    let o = run(&["record", "--from", cut, "-o", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("event source failed"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    let (copied, end) = read(&out);
    assert_eq!(copied, events, "every event before the failure is kept");
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");

    // As inconclusive as the input, not a pass.
    let o = run(&["check", out.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // The whole file still records complete.
    let out = dir.path().join("z.dxt");
    let o = run(&["record", "--from", whole, "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read(&out).1, End::Complete);
}
