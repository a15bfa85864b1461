//! The command line says things one way: each OS error once, warnings as
//! `daxtrace: warning: ...` (the library's included), counts with the
//! right singular or plural, `record --dev` taking what `check --dev`
//! takes, and `record` failing on a bad output path before it attaches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use dax_trace::event::{Event, EventBody};
use dax_trace::testkit::synthetic;
use dax_trace::trace::{Header, Reader, Record, Writer};

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn sample() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(synthetic::SAMPLE_PATH)
        .display()
        .to_string()
}

/// `events` as a trace file in `dir`; without its summary when `cut`.
fn write_trace(dir: &Path, name: &str, events: &[Event], cut: bool) -> String {
    let header = Header::new(synthetic::session(), Vec::new());
    let mut w = Writer::new(Vec::new(), &header).expect("header");
    for e in events {
        w.write_event(e).expect("event");
    }
    let (_, bytes) = w.finish("source-ended").expect("finish");
    let end = if cut { bytes.len() - 10 } else { bytes.len() };
    let path = dir.join(name);
    std::fs::write(&path, &bytes[..end]).expect("write");
    path.display().to_string()
}

fn events_of(path: &str) -> Vec<Event> {
    let mut reader = Reader::open(path).expect("opens");
    reader
        .by_ref()
        .filter_map(|r| match r {
            Ok(Record::Event(e)) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn each_os_error_is_said_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("x.dxt").display().to_string();
    let sample = sample();
    for args in [
        vec!["report", "/nonexistent/t.dxt"],
        vec!["check", "/nonexistent/t.dxt"],
        vec!["record", "--from", "/nonexistent/t.dxt", "-o", &out],
        vec!["record", "--from", &sample, "-o", "/nonexistent/dir/x.dxt"],
        vec![
            "export",
            "--format",
            "jsonl",
            "-o",
            "/nonexistent/x",
            &sample,
        ],
        vec!["top", "--batch", "--replay", "/nonexistent/t.dxt"],
    ] {
        let o = run(&args);
        let text = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {text}");
        assert_eq!(
            text.matches("No such file or directory").count(),
            1,
            "{args:?}: {text}"
        );
        assert_eq!(text.matches("/nonexistent").count(), 1, "{args:?}: {text}");
    }
    assert!(!Path::new(&out).exists(), "a failed record leaves no file");
}

#[test]
fn warnings_have_one_style_and_counts_their_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = &synthetic::scenario()[..1];
    let cut = write_trace(dir.path(), "cut.dxt", one, true);
    let o = run(&["export", "--format", "jsonl", "-o", "-", &cut]);
    let text = stderr(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.starts_with("daxtrace: warning: "), "{text}");
    assert!(text.contains("exported the 1 event before it"), "{text}");

    // The library's log in the same voice (its warnings are unit-tested
    // in cmd/diagnostic.rs); a cut replay is said once, by the command.
    let o = Command::new(BIN)
        .args([
            "top",
            "--batch",
            "--replay",
            &cut,
            "--speed",
            "0",
            "--iterations",
            "3",
        ])
        .env("RUST_LOG", "info")
        .output()
        .expect("runs");
    let text = stderr(&o);
    assert!(
        text.contains("daxtrace: info dax_trace::source::replay: replay stopped early"),
        "{text}"
    );
    assert!(!text.contains(" INFO "), "{text}");
    let out = dir.path().join("cut-copy.dxt").display().to_string();
    let o = run(&["record", "--from", &cut, "-o", &out]);
    let text = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert_eq!(text.matches("truncated at byte").count(), 1, "{text}");

    let whole = write_trace(dir.path(), "one.dxt", one, false);
    let out = dir.path().join("copy.dxt").display().to_string();
    let o = run(&["record", "--from", &whole, "-o", &out]);
    let text = stderr(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("wrote 1 event ("), "{text}");
}

#[test]
fn record_dev_takes_what_check_dev_takes_and_filters_the_state_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = sample();
    let mut copies = Vec::new();
    for (i, dev) in ["pmem0", "/dev/pmem0", "259:0"].iter().enumerate() {
        assert!(
            run(&["check", &sample, "--dev", dev]).status.code() != Some(3),
            "check takes --dev {dev}"
        );
        let out = dir.path().join(format!("{i}.dxt")).display().to_string();
        let o = run(&["record", "--from", &sample, "--dev", dev, "-o", &out]);
        assert!(o.status.success(), "--dev {dev}: {}", stderr(&o));
        copies.push(events_of(&out));
    }
    assert_eq!(copies[0], copies[1]);
    assert_eq!(copies[0], copies[2]);
    // The sample's state at start has pmem0, pmem1 and dm-0 (over pmem1):
    // only pmem0's is kept.
    let disks: Vec<String> = copies[0]
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::StateDaxDevice(d) => Some(d.disk.as_str().to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(disks, vec!["pmem0".to_string()]);
    let all = events_of(&sample);
    assert!(copies[0].len() < all.len());

    let o = run(&[
        "record",
        "--from",
        &sample,
        "--dev",
        "pmem9",
        "-o",
        "/tmp/never.dxt",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("pmem9"), "{}", stderr(&o));
}

#[test]
fn live_record_fails_on_a_bad_output_before_attaching() {
    let began = Instant::now();
    let o = run(&[
        "record",
        "-o",
        "/nonexistent/dir/live.dxt",
        "--duration",
        "1s",
    ]);
    let text = stderr(&o);
    if text.contains("needs root") {
        println!("skipping: live capture needs root: {text}");
        return;
    }
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(text.contains("/nonexistent/dir/live.dxt"), "{text}");
    assert!(!text.contains("probe families attached"), "{text}");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "took {:?}",
        began.elapsed()
    );
}
