//! External tools (mkfs, dmsetup) run under a deadline: a tool that hangs is
//! killed and reported instead of hanging the scenario.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// Run `program args...`, failing when it exits non-zero or outlives `deadline`.
pub fn run<S: AsRef<OsStr>>(program: &str, args: &[S], deadline: Duration) -> Result<()> {
    output(program, args, deadline).map(|_| ())
}

/// Like [`run`], returning the tool's stdout.
pub fn output<S: AsRef<OsStr>>(program: &str, args: &[S], deadline: Duration) -> Result<String> {
    let out = completed(program, args, deadline)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            command_line(program, args),
            out.status,
            head(&String::from_utf8_lossy(&out.stderr), 600)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run `program args...` to its end whatever its exit status (stdout and
/// stderr captured); fails only when it cannot start or outlives `deadline`
/// (it is then killed).
pub fn completed<P: AsRef<OsStr>, S: AsRef<OsStr>>(
    program: P,
    args: &[S],
    deadline: Duration,
) -> Result<Output> {
    let program = program.as_ref().to_string_lossy().into_owned();
    let line = command_line(&program, args);
    let child = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| match err.kind() {
            ErrorKind::NotFound => anyhow!("{program} not found on PATH (needed for `{line}`)"),
            _ => anyhow!("cannot start `{line}`: {err}"),
        })?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(format!("wait {program}"))
        .spawn(move || {
            let _ = tx.send(child.wait_with_output());
        })
        .context("spawning the waiter thread")?;
    match rx.recv_timeout(deadline) {
        Ok(result) => result.with_context(|| format!("waiting for `{line}`")),
        Err(RecvTimeoutError::Timeout) => {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: plain kill(2) of the child we spawned.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            bail!(
                "`{line}` still running after {} s: killed",
                deadline.as_secs()
            );
        }
        Err(RecvTimeoutError::Disconnected) => bail!("lost the waiter of `{line}`"),
    }
}

fn command_line<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    std::iter::once(program.to_owned())
        .chain(
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first `max` bytes of `text` (on a char boundary), trimmed: tools say
/// what went wrong first and print their usage after it.
fn head(text: &str, max: usize) -> &str {
    let text = text.trim();
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn stdout_comes_back() {
        let out = output("sh", &["-c", "echo dm-3"], 10 * SECOND).expect("sh runs");
        assert_eq!(out.trim(), "dm-3");
    }

    #[test]
    fn failure_carries_status_and_stderr() {
        let err = run(
            "sh",
            &["-c", "echo no such device >&2; exit 3"],
            10 * SECOND,
        )
        .expect_err("exit 3 is a failure");
        let msg = format!("{err:#}");
        assert!(msg.contains("no such device"), "{msg}");
        assert!(msg.contains('3'), "{msg}");
    }

    #[test]
    fn a_hanging_tool_is_killed_at_the_deadline() {
        let err = run("sleep", &["30"], Duration::from_millis(200)).expect_err("deadline");
        assert!(format!("{err:#}").contains("killed"), "{err:#}");
    }

    #[test]
    fn missing_tool_is_named() {
        let err = run("dax-workload-no-such-tool", &["x"], SECOND).expect_err("missing");
        assert!(format!("{err:#}").contains("not found on PATH"));
    }

    #[test]
    fn completed_keeps_a_failing_status() {
        let out = completed("sh", &["-c", "echo out; echo err >&2; exit 4"], 10 * SECOND)
            .expect("ran to its end");
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "out");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), "err");
    }

    #[test]
    fn head_keeps_the_start() {
        assert_eq!(head("  abcdef \n", 3), "abc");
        assert_eq!(head("ab", 10), "ab");
        assert_eq!(head("éa", 1), "");
    }
}
