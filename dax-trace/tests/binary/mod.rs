//! Running the built `daxtrace` binary from a test: shared by the tests that
//! judge what it prints and how it exits on this machine.
use std::process::Command;

/// Runs `daxtrace ARGS` to the end: exit code (-1 when killed by a signal),
/// stdout and stderr.
pub fn daxtrace(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_daxtrace"))
        .args(args)
        .output()
        .expect("run daxtrace");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
