//! `daxtrace top` from the command line without a terminal: batch frames
//! over a replayed trace, and the errors a user can make.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::process::{Command, Output};

mod common;

fn daxtrace(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daxtrace"))
        .args(args)
        .output()
        .expect("running daxtrace")
}

fn frames(stdout: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.starts_with("daxtrace top - "))
        .count()
}

#[test]
fn batch_replay_prints_frames_until_the_trace_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::sample_trace(dir.path());
    let out = daxtrace(&[
        "top",
        "--replay",
        trace.to_str().expect("utf-8 path"),
        "--speed",
        "0",
        "--batch",
        "--interval",
        "0.2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(frames(&stdout) >= 1, "{stdout}");
    let last = stdout.rsplit("daxtrace top - ").next().expect("a frame");
    assert!(last.contains("end of trace"), "{stdout}");
    assert!(last.contains("pmem0"), "{stdout}");
    assert!(last.contains("drops 2"), "{stdout}");
}

#[test]
fn batch_iterations_stop_after_n_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::sample_trace(dir.path());
    // At recorded speed the sample lasts over a second: longer than 2 x 0.1 s.
    let out = daxtrace(&[
        "top",
        "--replay",
        trace.to_str().expect("utf-8 path"),
        "--batch",
        "--iterations",
        "2",
        "--interval",
        "0.1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(frames(&stdout), 2, "{stdout}");
}

#[test]
fn a_missing_trace_is_an_input_error() {
    let out = daxtrace(&["top", "--replay", "/nonexistent/x.dxt", "--batch"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/x.dxt"), "{stderr}");
}

#[test]
fn the_screen_needs_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::sample_trace(dir.path());
    let out = daxtrace(&["top", "--replay", trace.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--batch"));
}

#[test]
fn a_cut_trace_says_where_it_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = std::fs::read(common::sample_trace(dir.path())).expect("reading the sample");
    let cut = dir.path().join("cut.dxt");
    std::fs::write(&cut, &whole[..whole.len() - 200]).expect("writing the cut trace");
    let out = daxtrace(&[
        "top",
        "--replay",
        cut.to_str().expect("utf-8 path"),
        "--speed",
        "0",
        "--batch",
        "--interval",
        "0.2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let last = stdout.rsplit("daxtrace top - ").next().expect("a frame");
    assert!(last.contains("end of trace: truncated at byte"), "{stdout}");
}

#[test]
fn batch_output_into_a_closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::sample_trace(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_daxtrace"))
        .args([
            "top",
            "--replay",
            trace.to_str().expect("utf-8 path"),
            "--batch",
            "--interval",
            "0.1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running daxtrace");
    // Close the read end at once, as `daxtrace top --batch | head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waiting for daxtrace");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
