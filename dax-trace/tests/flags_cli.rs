//! Numeric flags out of range are usage errors (exit 3) that name the flag
//! and what it accepts, given before anything starts: no panic, no value
//! silently clamped, no file created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn sample() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/synthetic-6.1.dxt")
        .display()
        .to_string()
}

/// (Values are given as `--flag=VALUE`, so that clap does not read a
/// negative one as a flag.)
///
/// Asserts `args` exit 3 with a message naming `flag`, and no panic.
fn refused(args: &[&str], flag: &str) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(stderr.contains(flag), "{args:?} names {flag}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn top_interval_and_speed_are_range_checked() {
    let trace = sample();
    for interval in ["1e308", "0", "-1", "nan", "inf", "1ms", "2h"] {
        refused(
            &[
                "top",
                "--batch",
                "--replay",
                &trace,
                &format!("--interval={interval}"),
            ],
            "--interval",
        );
    }
    for speed in ["1e-300", "1e300", "NaN", "inf", "-1"] {
        refused(
            &[
                "top",
                "--batch",
                "--replay",
                &trace,
                &format!("--speed={speed}"),
            ],
            "--speed",
        );
    }
}

#[test]
fn record_speed_is_range_checked_before_the_file_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("y.dxt");
    let out = out.to_str().expect("utf8");
    let trace = sample();
    for speed in ["1e-300", "1e300", "NaN", "inf", "-inf", "-2", "0"] {
        refused(
            &[
                "record",
                "--from",
                &trace,
                &format!("--speed={speed}"),
                "-o",
                out,
            ],
            "--speed",
        );
        assert!(!std::path::Path::new(out).exists(), "--speed {speed}");
    }
    for duration in ["1e308", "-5s", "0", "99999999999h"] {
        refused(
            &[
                "record",
                "--from",
                &trace,
                &format!("--duration={duration}"),
                "-o",
                out,
            ],
            "--duration",
        );
    }
}

#[test]
fn serve_speed_is_range_checked() {
    let trace = sample();
    for speed in ["1e-300", "nan", "inf"] {
        refused(&["serve", "--replay", &trace, "--speed", speed], "--speed");
    }
}

#[test]
fn check_max_wait_and_duration_are_range_checked() {
    let trace = sample();
    for wait in ["1e300", "1e300ms", "-1ms", "nanms", "8d", "200h"] {
        refused(
            &["check", &trace, &format!("--max-wait={wait}")],
            "--max-wait",
        );
    }
    for duration in ["1e300", "nan", "0"] {
        refused(&["check", "--duration", duration], "--duration");
    }
    refused(&["probes", "--listen", "1e308"], "--listen");
}

#[test]
fn a_bare_max_wait_asks_for_its_unit() {
    let out = Command::new(BIN)
        .args(["check", &sample(), "--max-wait", "100"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("100ms"), "{stderr}");
}
