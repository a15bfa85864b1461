//! Running QEMU: follow the four serial files while it runs, stream the
//! command's output, enforce the timeout, and collect what happened.
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::guest_script::{Status, parse_status};

/// The serial-port files of one run.
#[derive(Clone, Debug)]
pub struct SerialFiles {
    pub console: PathBuf,
    pub status: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub qemu_log: PathBuf,
}

impl SerialFiles {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            console: dir.join("console.log"),
            status: dir.join("status.log"),
            stdout: dir.join("stdout.log"),
            stderr: dir.join("stderr.log"),
            qemu_log: dir.join("qemu.log"),
        }
    }
}

/// Where followed output is echoed while the VM runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Echo {
    pub command_output: bool,
    pub console: bool,
}

/// What a QEMU run produced, before interpretation.
#[derive(Debug, Default)]
pub struct RawRun {
    pub console: Vec<u8>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub qemu_log: String,
    /// Status lines with the time since QEMU started when each was seen.
    pub statuses: Vec<(Duration, Status)>,
    pub qemu_status: Option<std::process::ExitStatus>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// Reads what a growing file gained since the last call.
struct Follower {
    file: File,
    pos: u64,
}

impl Follower {
    fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        Ok(Self { file, pos: 0 })
    }

    fn poll(&mut self, into: &mut Vec<u8>) -> std::io::Result<usize> {
        self.file.seek(SeekFrom::Start(self.pos))?;
        let n = self.file.read_to_end(into)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// How long QEMU may take to power off once the command reported its status.
const POWEROFF_GRACE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

/// Start QEMU with `args` and follow it until it exits or `timeout` passes.
pub fn run_qemu(
    args: &[OsString],
    files: &SerialFiles,
    timeout: Duration,
    echo: Echo,
) -> anyhow::Result<RawRun> {
    for f in [&files.console, &files.status, &files.stdout, &files.stderr] {
        File::create(f).with_context(|| format!("creating {}", f.display()))?;
    }
    let qemu_log = File::create(&files.qemu_log)?;
    let started = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(args)
        .stdin(Stdio::null())
        .stdout(qemu_log.try_clone()?)
        .stderr(qemu_log)
        .spawn()
        .context("starting qemu-system-x86_64 (install qemu-system-x86)")?;
    let mut console = Follower::open(&files.console)?;
    let mut status = Follower::open(&files.status)?;
    let mut stdout = Follower::open(&files.stdout)?;
    let mut stderr = Follower::open(&files.stderr)?;
    let mut run = RawRun::default();
    let mut status_buf = Vec::new();
    let mut exit_seen_at: Option<Instant> = None;
    loop {
        let finished = child.try_wait()?;
        let mut chunk = Vec::new();
        if stdout.poll(&mut chunk)? > 0 && echo.command_output {
            std::io::stdout().write_all(&chunk).ok();
            std::io::stdout().flush().ok();
        }
        run.stdout.extend_from_slice(&chunk);
        chunk.clear();
        if stderr.poll(&mut chunk)? > 0 && echo.command_output {
            std::io::stderr().write_all(&chunk).ok();
        }
        run.stderr.extend_from_slice(&chunk);
        chunk.clear();
        if console.poll(&mut chunk)? > 0 && echo.console {
            std::io::stderr().write_all(&chunk).ok();
        }
        run.console.extend_from_slice(&chunk);
        status.poll(&mut status_buf)?;
        while let Some(nl) = status_buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = status_buf.drain(..=nl).collect();
            if let Some(s) = parse_status(&String::from_utf8_lossy(&line)) {
                if matches!(s, Status::Exit { .. }) {
                    exit_seen_at = Some(Instant::now());
                }
                run.statuses.push((started.elapsed(), s));
            }
        }
        if let Some(st) = finished {
            run.qemu_status = Some(st);
            break;
        }
        let overdue = exit_seen_at.is_some_and(|t| t.elapsed() > POWEROFF_GRACE);
        if started.elapsed() > timeout || overdue {
            run.timed_out = exit_seen_at.is_none();
            child.kill().ok();
            run.qemu_status = child.wait().ok();
            // One more pass picks up the last bytes written before the kill.
            console.poll(&mut run.console)?;
            stdout.poll(&mut run.stdout)?;
            stderr.poll(&mut run.stderr)?;
            break;
        }
        std::thread::sleep(POLL);
    }
    run.elapsed = started.elapsed();
    run.qemu_log = std::fs::read_to_string(&files.qemu_log).unwrap_or_default();
    Ok(run)
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 5), "");
    }

    #[test]
    fn follower_returns_only_new_bytes() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("f");
        std::fs::write(&path, b"one\n").unwrap();
        let mut f = Follower::open(&path).unwrap();
        let mut buf = Vec::new();
        assert_eq!(f.poll(&mut buf).unwrap(), 4);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        assert_eq!(f.poll(&mut buf).unwrap(), 4);
        assert_eq!(buf, b"one\ntwo\n");
        assert_eq!(f.poll(&mut buf).unwrap(), 0);
    }
}
