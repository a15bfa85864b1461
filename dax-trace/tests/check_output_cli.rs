//! Where `check` writes: `-o FILE` is the report in the chosen --format
//! (`--format junit -o report.xml`), the node_exporter textfile has its own
//! flag, and a live capture is kept with `--save-trace`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("runs")
}

fn sample() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/synthetic-6.1.dxt")
        .display()
        .to_string()
}

#[test]
fn o_writes_the_report_in_the_chosen_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (format, start) in [
        ("junit", "<?xml"),
        ("json", "{"),
        ("text", "daxtrace check: FAIL"),
        ("prometheus", "# HELP"),
    ] {
        let path = dir.path().join(format!("report.{format}"));
        let o = run(&[
            "check",
            &sample(),
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "the sample fails ({format})");
        assert!(o.stdout.is_empty(), "{format}: the report goes to the file");
        let text = std::fs::read_to_string(&path).expect("written");
        assert!(text.starts_with(start), "{format}: {text}");
        let expected = run(&["check", &sample(), "--format", format]);
        if format != "prometheus" {
            // The same report as on stdout (the textfile carries a time).
            assert_eq!(text.as_bytes(), expected.stdout, "{format}");
        }
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("lists").count(),
        4,
        "no temporary file left behind"
    );
}

#[test]
fn metrics_have_their_own_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prom = dir.path().join("daxtrace.prom");
    let xml = dir.path().join("report.xml");
    let o = run(&[
        "check",
        &sample(),
        "--format",
        "junit",
        "-o",
        xml.to_str().unwrap(),
        "--metrics-textfile",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let metrics = std::fs::read_to_string(&prom).expect("textfile written");
    assert!(
        metrics.contains("daxtrace_check_outcome{outcome=\"fail\"} 1"),
        "{metrics}"
    );
    assert!(
        std::fs::read_to_string(&xml)
            .expect("report")
            .contains("<testsuite")
    );

    // With the text report on stdout.
    let o = run(&[
        "check",
        &sample(),
        "--metrics-textfile",
        prom.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("daxtrace check: FAIL"));
}

#[test]
fn old_and_wrong_uses_are_clear_errors() {
    let o = run(&["check", &sample(), "-o", "capture.dxt"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--save-trace"));
    let o = run(&["check", &sample(), "--save-trace", "t.dxt"]);
    assert_eq!(o.status.code(), Some(3), "--save-trace needs --duration");

    // A report that cannot be written fails before a live capture starts.
    let began = Instant::now();
    let o = run(&[
        "check",
        "--duration",
        "20s",
        "-o",
        "/nonexistent/dir/report.xml",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/dir"));
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
}
