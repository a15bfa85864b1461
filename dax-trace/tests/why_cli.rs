//! `daxtrace why`: a target that names nothing is an input error (exit 3)
//! before anything attaches; as root, a process that waits for no DAX page
//! is "not waiting" (exit 0) after the watch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_daxtrace");

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_target_that_names_nothing_is_an_input_error() {
    let (code, _, err) = run(&["why", "4294967295"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no process or thread 4294967295"), "{err}");
    let (code, _, err) = run(&["why", "/no/such/file"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("/no/such/file"), "{err}");
    let (code, _, err) = run(&["why", "not-a-target"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("neither a PID, a TID nor an existing path"),
        "{err}"
    );
    let (code, _, err) = run(&["why", "1", "--watch=1e308"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("--watch"), "{err}");
}

#[test]
fn a_process_that_waits_for_no_dax_page_is_not_stuck() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: attaching needs root (run the tests as root, as CI does)");
        return;
    }
    let me = std::process::id().to_string();
    let (code, out, err) = run(&["why", &me, "--watch", "1s"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("no thread of the target waits for a DAX page"),
        "{out}"
    );
}
