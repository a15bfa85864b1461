//! Version-1 trace files read exactly as before the typed event ABI: the
//! `report` and `check` output (text, JSON, JUnit) and exit codes of both
//! shipped samples in their v1 form and of a cut v1 file are pinned in
//! `tests/fixtures/v1-pinned/`, taken with the code before version 2 existed
//! and since changed only on purpose where the output changed for every
//! trace: JSON schema 2 (addresses as hex strings, devices as `maj:min`,
//! exact wait percentiles), tasks as `comm[pid/tid]`, the listed stuck
//! waits, a claim open at a cut being inconclusive, and the orphaned-page
//! assertion and counters, and `summary.losses`.
//! The same files upgraded to version 2 (`export --format dxt`), and the
//! v2 synthetic sample as shipped before traces had a state at start
//! (`synthetic-6.1-v2-before-state.dxt`; the shipped sample now begins with
//! one), give the same output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn pinned_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-pinned")
}

fn version(file: &Path) -> u32 {
    let bytes = std::fs::read(file).expect("read trace");
    u32::from_le_bytes(bytes[8..12].try_into().expect("preamble"))
}

/// Runs daxtrace; returns the exit code and stdout with the file's path as `<FILE>`.
fn run(file: &Path, args: &[&str]) -> (i32, String) {
    let path = file.to_str().expect("utf-8 path");
    let mut full: Vec<&str> = args.to_vec();
    full.insert(1, path);
    let out = Command::new(BIN)
        .args(&full)
        .output()
        .expect("runs daxtrace");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    (
        out.status.code().unwrap_or(-1),
        stdout.replace(path, "<FILE>"),
    )
}

/// The outputs pinned per file, with the exit code each command must give.
const OUTPUTS: &[(&str, &[&str], i32)] = &[
    ("report.json", &["report", "--json"], 0),
    ("report.txt", &["report"], 0),
    ("check.text", &["check", "--format", "text"], 1),
    ("check.json", &["check", "--format", "json"], 1),
    ("check.junit", &["check", "--format", "junit"], 1),
];

fn assert_pinned(name: &str, file: &Path) {
    for (suffix, args, code) in OUTPUTS {
        let pinned = std::fs::read_to_string(pinned_dir().join(format!("{name}.{suffix}")))
            .expect("pinned output");
        let (got_code, got) = run(file, args);
        assert_eq!(got_code, *code, "{name} {args:?} exit code");
        assert_eq!(got, pinned, "{name} {args:?} ({}) changed", file.display());
    }
}

fn upgrade(file: &Path, dir: &Path) -> PathBuf {
    let out = dir.join(file.file_name().expect("file name"));
    let status = Command::new(BIN)
        .args([
            "export",
            file.to_str().expect("path"),
            "--format",
            "dxt",
            "-o",
        ])
        .arg(&out)
        .status()
        .expect("runs daxtrace export");
    assert!(
        status.success(),
        "export --format dxt of {}",
        file.display()
    );
    assert_eq!(version(&out), dax_trace::trace::FORMAT_VERSION);
    out
}

#[test]
fn the_recorded_v1_sample_reads_as_before_and_so_does_its_v2_upgrade() {
    let v1 = pinned_dir().join("dma-truncate-6.1.dxt");
    assert_eq!(version(&v1), 1);
    assert_pinned("dma-truncate-6.1", &v1);
    let dir = tempfile::tempdir().expect("tempdir");
    assert_pinned("dma-truncate-6.1", &upgrade(&v1, dir.path()));
}

#[test]
fn the_synthetic_sample_reads_the_same_in_v1_and_v2() {
    let v1 = pinned_dir().join("synthetic-6.1.dxt");
    assert_eq!(version(&v1), 1);
    assert_pinned("synthetic-6.1", &v1);
    let v2 = pinned_dir().join("synthetic-6.1-v2-before-state.dxt");
    assert_eq!(version(&v2), 2);
    assert_pinned("synthetic-6.1", &v2);
    let dir = tempfile::tempdir().expect("tempdir");
    let upgraded = upgrade(&v1, dir.path());
    assert_pinned("synthetic-6.1", &upgraded);
}

#[test]
fn a_cut_v1_file_reads_as_before_and_its_upgrade_stays_unfinished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(pinned_dir().join("dma-truncate-6.1.dxt")).expect("sample");
    let cut = dir.path().join("cut.dxt");
    std::fs::write(&cut, &bytes[..20_000]).expect("write cut file");
    assert_pinned("cut-dma-truncate-6.1", &cut);
    let up = dir.path().join("up");
    std::fs::create_dir(&up).expect("mkdir");
    let upgraded = upgrade(&cut, &up);
    // The copy holds the same events and, like its source, no summary.
    let (code, check) = run(&upgraded, &["check"]);
    assert_eq!(code, 1);
    assert!(check.contains("the file ends without a summary"), "{check}");
    let pinned: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(pinned_dir().join("cut-dma-truncate-6.1.report.json"))
            .expect("pinned"),
    )
    .expect("json");
    let (_, report) = run(&upgraded, &["report", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&report).expect("json report");
    assert_eq!(report["summary"], pinned["summary"]);
}
