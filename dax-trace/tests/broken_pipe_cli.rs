//! Every subcommand that prints to stdout, run with a stdout whose reader
//! is already gone (`daxtrace check t.dxt | head -1` when head has
//! exited): the command ends quietly with its own exit code (check keeps
//! its verdict's), never with a panic's 101.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn sample() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/synthetic-6.1.dxt")
}

/// Runs daxtrace with a normal stdout: (exit code, stdout).
fn with_reader(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Runs daxtrace with stdout a pipe whose read end is closed before it
/// starts, so its first write fails with EPIPE: (exit code, stderr).
fn without_reader(args: &[&str]) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(BIN)
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The exit code with a reader gone is the one with a reader, and nothing
/// is said about the pipe.
fn assert_quiet_with_own_code(args: &[&str]) {
    let (code, stdout) = with_reader(args);
    assert!(!stdout.is_empty(), "{args:?} prints something");
    let (gone, stderr) = without_reader(args);
    assert_eq!(
        gone, code,
        "{args:?} with its reader gone; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
}

#[test]
fn check_keeps_its_verdict_in_every_format() {
    let trace = sample();
    let trace = trace.to_str().expect("utf8");
    for format in ["text", "json", "junit", "prometheus"] {
        let args = ["check", "--format", format, trace];
        let (code, _) = with_reader(&args);
        assert_eq!(code, 1, "the sample fails its check ({format})");
        assert_quiet_with_own_code(&args);
    }
}

#[test]
fn report_text_and_json_end_quietly() {
    let trace = sample();
    let trace = trace.to_str().expect("utf8");
    assert_quiet_with_own_code(&["report", trace]);
    assert_quiet_with_own_code(&["report", "--json", trace]);
}

#[test]
fn export_to_stdout_ends_quietly() {
    let trace = sample();
    let trace = trace.to_str().expect("utf8");
    for format in ["jsonl", "perfetto"] {
        assert_quiet_with_own_code(&["export", "--format", format, "-o", "-", trace]);
    }
}

#[test]
fn probes_plan_ends_quietly() {
    assert_quiet_with_own_code(&["probes", "--plan-only"]);
    assert_quiet_with_own_code(&["probes", "--plan-only", "--json"]);
}

#[test]
fn state_ends_quietly_where_it_can_be_read() {
    let (code, stdout) = with_reader(&["state"]);
    if code != 0 {
        println!("skipping: the state cannot be read here ({code})");
        return;
    }
    assert!(!stdout.is_empty());
    assert_quiet_with_own_code(&["state"]);
    assert_quiet_with_own_code(&["state", "--json"]);
}

#[test]
fn completions_and_man_end_quietly() {
    assert_quiet_with_own_code(&["completions", "bash"]);
    assert_quiet_with_own_code(&["man"]);
}
