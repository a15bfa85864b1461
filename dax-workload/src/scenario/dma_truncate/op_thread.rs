//! The thread that truncates or punches the DAX file while its pages are
//! pinned (or, for `evict-dma`, gives the file up), and how the main thread
//! watches it sleep and return.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, Scope};
use std::time::{Duration, Instant};

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
        OpThread::spawn(scope, op_name(op), move || run_op(op, file))
    }

    /// Run `work` on a thread named `name` (its comm, which tracers report
    /// as the waiter) and registered with the watchdogs under that name.
    pub fn spawn<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        name: &'static str,
        work: impl FnOnce() -> std::io::Result<()> + Send + 'scope,
    ) -> Result<OpThread> {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, outcome) = mpsc::channel();
        thread::Builder::new()
            .name(name.into())
            .spawn_scoped(scope, move || {
                let _registered = watchdog::register_current(name);
                let _ = tid_tx.send((task::gettid(), Instant::now()));
                let result = work();
                let _ = done_tx.send(OpDone {
                    ended: Instant::now(),
                    result,
                });
            })
            .with_context(|| format!("spawning the {name} thread"))?;
        let (tid, started) = tid_rx
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("the {name} thread did not start"))?;
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

    /// Wait until the operation has been in uninterruptible sleep (D) for
    /// `confirm` without a break (Some(where)), or returns, or `deadline`
    /// passes (None). A short D sleep on I/O (a journal commit) is not
    /// taken for a wait.
    pub fn wait_uninterruptible(
        &mut self,
        label: &str,
        confirm: Duration,
        deadline: Instant,
    ) -> Option<Option<String>> {
        let mut asleep_since: Option<Instant> = None;
        while Instant::now() < deadline {
            if self.early.is_none()
                && let Ok(done) = self.outcome.try_recv()
            {
                self.early = Some(done);
            }
            if self.early.is_some() {
                return None;
            }
            match task::state(self.tid) {
                Some('D') => {
                    let since = *asleep_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= confirm {
                        let where_ = task::blocked_in(self.tid);
                        // I/O, not a wait for pages: a umount's writeback, a
                        // virtio-pmem flush the host takes its time with.
                        if where_.as_deref().is_some_and(|f| !task::is_dax_wait(f)) {
                            asleep_since = None;
                            thread::sleep(POLL);
                            continue;
                        }
                        progress!(
                            "{label}: operation in D for {} ms, in {}",
                            since.elapsed().as_millis(),
                            where_.as_deref().unwrap_or("?")
                        );
                        return Some(where_);
                    }
                }
                Some(_) => asleep_since = None,
                // A thread that is gone has returned.
                None => return None,
            }
            thread::sleep(POLL);
        }
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

    #[test]
    fn an_interruptible_sleep_is_not_taken_for_a_d_wait() {
        thread::scope(|scope| {
            let mut op = OpThread::spawn(scope, "wl-test-sleep", || {
                thread::sleep(Duration::from_millis(400));
                Ok(())
            })
            .expect("spawn");
            let seen = op.wait_uninterruptible(
                "test",
                Duration::from_millis(20),
                Instant::now() + Duration::from_millis(150),
            );
            assert_eq!(seen, None, "nanosleep is S, never D");
            let done = op
                .wait_until(Instant::now() + Duration::from_secs(10))
                .expect("returns");
            assert!(done.result.is_ok());
            assert!(done.ended >= op.started + Duration::from_millis(400));
        });
    }

    #[test]
    fn a_return_seen_while_watching_is_kept_for_wait_until() {
        thread::scope(|scope| {
            let mut op = OpThread::spawn(scope, "wl-test-fail", || {
                Err(std::io::Error::from_raw_os_error(libc::EBUSY))
            })
            .expect("spawn");
            let seen = op.wait_uninterruptible(
                "test",
                Duration::from_millis(20),
                Instant::now() + Duration::from_secs(10),
            );
            assert_eq!(seen, None);
            let done = op.wait_until(Instant::now()).expect("kept from the watch");
            assert_eq!(
                done.result.expect_err("the work's error").raw_os_error(),
                Some(libc::EBUSY)
            );
        });
    }
}
