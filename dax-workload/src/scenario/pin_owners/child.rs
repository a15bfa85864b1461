//! Running `dax-workload pin-child` (see `crate::pin_child`): start it, wait
//! (bounded) for the step lines it prints, release its pin by closing its
//! stdin, and reap it (killed when it outlives its deadline).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use super::Task;
use crate::pin_child::PinChildMode;

/// Poll interval while waiting for a child to exit.
const POLL: Duration = Duration::from_millis(10);

/// A running pin child.
pub struct PinChild {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
}

impl PinChild {
    /// Start `dax-workload pin-child --mode MODE --path PATH --pages N --name NAME`.
    pub fn spawn(mode: PinChildMode, path: &Path, pages: u32, name: &str) -> Result<PinChild> {
        let exe = std::env::current_exe().context("finding our own executable")?;
        let mode = match mode {
            PinChildMode::Vmsplice => "vmsplice",
            PinChildMode::OdirectAnon => "odirect-anon",
            PinChildMode::Uring => "uring",
        };
        let mut child = Command::new(&exe)
            .arg("pin-child")
            .args([
                "--mode",
                mode,
                "--pages",
                &pages.to_string(),
                "--name",
                name,
            ])
            .arg("--path")
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} pin-child {name}", exe.display()))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        thread::Builder::new()
            .name(format!("read {name}"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let value = serde_json::from_str(&line)
                        .unwrap_or_else(|_| serde_json::json!({"step": "garbled", "line": line}));
                    if tx.send(value).is_err() {
                        break;
                    }
                }
            })
            .context("spawning the child's stdout reader")?;
        Ok(PinChild {
            name: name.to_owned(),
            child,
            stdin,
            lines,
        })
    }

    /// The next line, which must be step `step`, within `deadline`.
    pub fn expect_step(&mut self, step: &str, deadline: Duration) -> Result<Value> {
        let line = self.lines.recv_timeout(deadline).map_err(|_| {
            anyhow!(
                "pin-child {} printed no `{step}` line within {} s",
                self.name,
                deadline.as_secs()
            )
        })?;
        if line["step"] != step {
            bail!("pin-child {}: expected `{step}`, got {line}", self.name);
        }
        Ok(line)
    }

    /// Let go of the pin: the child drains its pipe once its stdin closes.
    pub fn release(&mut self) {
        self.stdin = None;
    }

    /// Wait for the child to exit (killing it at `deadline`).
    pub fn finish(mut self, deadline: Duration) -> Result<ExitStatus> {
        self.release();
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().context("waiting for pin-child")? {
                return Ok(status);
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!(
                    "pin-child {} still running after {} s: killed",
                    self.name,
                    deadline.as_secs()
                );
            }
            thread::sleep(POLL);
        }
    }
}

impl Drop for PinChild {
    fn drop(&mut self) {
        // Finished children are reaped already; a forgotten one is not left
        // holding a pin past the scenario.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The task a child's `pinned` / `reading` line names.
pub fn task_of(line: &Value) -> Result<Task> {
    let pid = line["pid"].as_u64().context("no pid in the child's line")?;
    let tid = line["tid"].as_i64().context("no tid in the child's line")?;
    Ok(Task {
        pid: u32::try_from(pid).context("pid")?,
        tid: i32::try_from(tid).context("tid")?,
        comm: line["comm"].as_str().unwrap_or_default().to_owned(),
        pfn: line["pfn"].as_u64().unwrap_or(0),
    })
}
