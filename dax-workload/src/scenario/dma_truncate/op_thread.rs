//! The thread that truncates or punches the DAX file while its pages are pinned.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, Scope};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};

use super::{PIN_LEN, POLL, SETTLE_DEADLINE, op_name};
use crate::cli::OpKind;
use crate::progress;
use crate::task;
use crate::watchdog;

/// What the truncate / punch thread reports when its call returns.
pub struct OpDone {
    pub ended: Instant,
    pub result: std::io::Result<()>,
}

/// The thread doing the truncate or punch.
pub struct OpThread {
    pub tid: i32,
    pub started: Instant,
    pub outcome: Receiver<OpDone>,
    /// The outcome, when it came while we were watching the thread sleep.
    early: Option<OpDone>,
}

impl OpThread {
    pub fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        op: OpKind,
        file: &'env File,
    ) -> Result<OpThread> {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, outcome) = mpsc::channel();
        thread::Builder::new()
            .name(op_name(op).into())
            .spawn_scoped(scope, move || {
                let _registered = watchdog::register_current(op_name(op));
                let _ = tid_tx.send((task::gettid(), Instant::now()));
                let result = run_op(op, file);
                let _ = done_tx.send(OpDone {
                    ended: Instant::now(),
                    result,
                });
            })
            .context("spawning the truncate thread")?;
        let (tid, started) = tid_rx
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("the {} thread did not start", op_name(op)))?;
        Ok(OpThread {
            tid,
            started,
            outcome,
            early: None,
        })
    }

    /// Wait until the operation sleeps (Some(where)) or returns (None).
    pub fn wait_asleep(&mut self, label: &str) -> Option<Option<String>> {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(done) = self.outcome.try_recv() {
                self.early = Some(done);
                return None;
            }
            if let Some('S' | 'D') = task::state(self.tid) {
                // Give it a moment to settle in its wait, then say where it is.
                thread::sleep(10 * POLL);
                if task::state(self.tid).is_some_and(|s| s == 'S' || s == 'D') {
                    let where_ = task::blocked_in(self.tid);
                    progress!(
                        "{label}: operation asleep in {}",
                        where_.as_deref().unwrap_or("?")
                    );
                    return Some(where_);
                }
            }
            // A thread that is gone has returned.
            task::state(self.tid)?;
            thread::sleep(POLL);
        }
        progress!("{label}: operation neither slept nor returned in {SETTLE_DEADLINE:?}");
        None
    }

    /// The outcome if the operation returns before `deadline`.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<OpDone> {
        if let Some(done) = self.early.take() {
            return Some(done);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.outcome.recv_timeout(left).ok()
    }
}

/// ftruncate to 0, or punch a hole over the pinned range.
fn run_op(op: OpKind, file: &File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    let rc = match op {
        // SAFETY: plain syscalls on a descriptor we own.
        OpKind::Truncate => unsafe { libc::ftruncate(fd, 0) },
        OpKind::Punch => unsafe {
            libc::fallocate(
                fd,
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                0,
                PIN_LEN as libc::off_t,
            )
        },
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::dma_truncate::FILE_LEN;
    use crate::scenario::write_file;

    #[test]
    fn truncate_and_punch_work_on_a_plain_file() {
        let path = std::env::temp_dir().join(format!("dax-wl-op-{}", std::process::id()));
        let file = write_file(&path, FILE_LEN, 1).expect("file");
        run_op(OpKind::Punch, &file).expect("punch");
        assert_eq!(
            file.metadata().expect("stat").len(),
            FILE_LEN as u64,
            "KEEP_SIZE"
        );
        run_op(OpKind::Truncate, &file).expect("truncate");
        assert_eq!(file.metadata().expect("stat").len(), 0);
        std::fs::remove_file(&path).expect("cleanup");
    }
}
