//! The pin a case holds on the DAX pages: an O_DIRECT read in flight on its
//! own thread, or pages vmspliced into a pipe.

use std::fs::File;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};

use super::{PIN_LEN, POLL, SETTLE_DEADLINE};
use crate::clock;
use crate::mapping::{Mapping, PAGE_SIZE};
use crate::pin::{self, Pipe};
use crate::progress;
use crate::task;
use crate::watchdog::{self, Stage};

/// The end of a pin: when, and how many bytes the pin moved.
pub struct PinEnd {
    pub at: Instant,
    pub bytes: usize,
}

/// What the O_DIRECT reader thread reports.
pub struct ReadDone {
    at: Instant,
    result: std::io::Result<usize>,
}

/// A pin in place.
pub enum HeldPin<'scope> {
    Odirect {
        started: Instant,
        started_ns: u64,
        tid: i32,
        seen_waiting: bool,
        done: Receiver<ReadDone>,
        _reader: ScopedJoinHandle<'scope, ()>,
    },
    Vmsplice {
        started: Instant,
        started_ns: u64,
        tid: i32,
        pipe: Pipe,
        spliced: usize,
    },
}

impl<'scope> HeldPin<'scope> {
    /// Start the O_DIRECT read into the mapping on a thread named
    /// `thread_name` (its comm, which tracers report as the pin's owner) and
    /// wait until the reader sleeps on its bio (state D): the pages are
    /// pinned from then on.
    pub fn odirect<'env>(
        scope: &'scope Scope<'scope, 'env>,
        device: &'env File,
        map: &Mapping,
        label: &str,
        thread_name: &'static str,
    ) -> Result<HeldPin<'scope>> {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let addr = map.addr();
        let reader = thread::Builder::new()
            .name(thread_name.into())
            .spawn_scoped(scope, move || {
                let _registered = watchdog::register_current(thread_name);
                let _ = tid_tx.send((task::gettid(), Instant::now(), clock::monotonic_ns()));
                let result = pin::odirect_read(device, addr, PIN_LEN);
                let _ = done_tx.send(ReadDone {
                    at: Instant::now(),
                    result,
                });
            })
            .context("spawning the O_DIRECT reader")?;
        let (tid, started, started_ns) = tid_rx
            .recv_timeout(SETTLE_DEADLINE)
            .map_err(|_| anyhow!("the O_DIRECT reader did not start"))?;
        let seen_waiting = {
            let _guard = watchdog::watch(
                Stage::Check,
                format!("{label}: O_DIRECT reader reaching its bio wait"),
                SETTLE_DEADLINE,
            );
            loop {
                if task::state(tid) == Some('D') {
                    break true;
                }
                if reader.is_finished() {
                    break false;
                }
                thread::sleep(POLL);
            }
        };
        if seen_waiting {
            progress!("{label}: O_DIRECT read of {PIN_LEN} bytes into the mapping in flight");
        }
        Ok(HeldPin::Odirect {
            started,
            started_ns,
            tid,
            seen_waiting,
            done,
            _reader: reader,
        })
    }

    /// vmsplice the pinned range into a pipe that nobody drains yet.
    pub fn vmsplice(map: &Mapping, label: &str) -> Result<HeldPin<'scope>> {
        let pipe = Pipe::new().context("pipe")?;
        let room = pipe.reserve(PIN_LEN).context("F_SETPIPE_SZ")?;
        if room < PIN_LEN {
            return Err(anyhow!("pipe holds {room} bytes, {PIN_LEN} needed"));
        }
        let started = Instant::now();
        let started_ns = clock::monotonic_ns();
        let spliced = {
            let _guard = watchdog::watch(
                Stage::Check,
                format!("{label}: vmsplice of the mapping"),
                SETTLE_DEADLINE,
            );
            pipe.vmsplice(map.addr(), PIN_LEN)
                .context("vmsplice of the DAX mapping")?
        };
        progress!("{label}: {spliced} bytes of the mapping vmspliced into a pipe");
        Ok(HeldPin::Vmsplice {
            started,
            started_ns,
            tid: task::gettid(),
            pipe,
            spliced,
        })
    }

    pub fn started(&self) -> Instant {
        match self {
            HeldPin::Odirect { started, .. } | HeldPin::Vmsplice { started, .. } => *started,
        }
    }

    pub fn started_monotonic_ns(&self) -> u64 {
        match self {
            HeldPin::Odirect { started_ns, .. } | HeldPin::Vmsplice { started_ns, .. } => {
                *started_ns
            }
        }
    }

    pub fn tid(&self) -> i32 {
        match self {
            HeldPin::Odirect { tid, .. } | HeldPin::Vmsplice { tid, .. } => *tid,
        }
    }

    /// Pages held, or None when the pin was never seen in place.
    pub fn pages_if_held(&self) -> Option<usize> {
        match self {
            HeldPin::Odirect { seen_waiting, .. } => seen_waiting.then_some(PIN_LEN / PAGE_SIZE),
            HeldPin::Vmsplice { spliced, .. } => Some(spliced.div_ceil(PAGE_SIZE)),
        }
    }

    /// Drop the pin: the read completes by itself (the device's delay); the
    /// pipe is drained at `hold_until`.
    pub fn release(self, hold_until: Instant, label: &str) -> Result<PinEnd> {
        match self {
            HeldPin::Odirect { done, .. } => {
                let _guard = watchdog::watch(
                    Stage::Check,
                    format!("{label}: O_DIRECT read completing"),
                    hold_until.saturating_duration_since(Instant::now()) + SETTLE_DEADLINE,
                );
                let done = done
                    .recv()
                    .map_err(|_| anyhow!("the O_DIRECT reader vanished"))?;
                let bytes = done.result.context("O_DIRECT read from the slow device")?;
                progress!("{label}: O_DIRECT read completed ({bytes} bytes): pin dropped");
                Ok(PinEnd { at: done.at, bytes })
            }
            HeldPin::Vmsplice { pipe, spliced, .. } => {
                thread::sleep(hold_until.saturating_duration_since(Instant::now()));
                let _guard = watchdog::watch(
                    Stage::Check,
                    format!("{label}: draining the pipe"),
                    SETTLE_DEADLINE,
                );
                // The pin ends as the drain starts: the first read puts the
                // pages, and the waiter may run before read() returns.
                let at = Instant::now();
                let drained = pipe.drain(spliced).context("draining the pipe")?;
                drop(pipe);
                progress!("{label}: pipe drained ({drained} bytes): pin dropped");
                Ok(PinEnd { at, bytes: drained })
            }
        }
    }
}
