//! The flight recorder (`daxtrace record --ring SIZE`): keeps the last
//! SIZE bytes of events in memory instead of writing everything, and
//! writes a complete trace file, a dump, when something worth a look
//! happens: a lost wakeup (`stuck-wait`), a page let go under DMA
//! (`page-orphaned`), a refused long-term pin, a memory failure, or a
//! SIGUSR1 from outside. What `perf record --overwrite` with
//! `--switch-output-event` is for perf.
//!
//! A dump waits `post_trigger` after its trigger so the events that
//! follow are in it too (triggers meanwhile join it), is written at once
//! when those events would fill half the ring, and one trigger kind opens
//! at most one dump per `hold_off`. Each dump is a valid trace on its own:
//! the recording's header (with a [`crate::trace::FLIGHT_WINDOW`] filter
//! naming the triggers), the state at start, the ring's events with their
//! stacks, and a summary. Events older than the ring are lost by design,
//! and the marker tells `check` so. Files and names: [`files`].
pub mod files;
pub mod ring;
pub mod trigger;
mod window;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use files::{DumpError, DumpFiles};
pub use ring::{MAX_RING_BYTES, MIN_RING_BYTES};
pub use trigger::{Armed, Trigger, TriggerError};
pub use window::Dumped;

use super::EventFilter;
use crate::event::Event;
use crate::source::EventStream;
use crate::source::drive::{DriveOptions, Sink, Stopped, drive};
use crate::trace::Header;
use window::Window;

/// How the flight recorder runs.
#[derive(Clone, Debug)]
pub struct FlightOptions {
    /// The ring's size in bytes of encoded events.
    pub ring_bytes: u64,
    /// The event triggers (SIGUSR1 is always one).
    pub armed: Armed,
    /// One dump per trigger kind per this long at most.
    pub hold_off: Duration,
    /// How long after its trigger a dump is written.
    pub post_trigger: Duration,
    /// On the way out (signal, duration, end of the stream), dump what the
    /// ring holds even without a trigger.
    pub dump_on_exit: bool,
    /// Stop after this long; `None`: until stopped or the stream ends.
    pub duration: Option<Duration>,
    pub filter: EventFilter,
}

impl Default for FlightOptions {
    fn default() -> Self {
        Self {
            ring_bytes: 64 << 20,
            armed: Armed::default(),
            hold_off: Duration::from_secs(10),
            post_trigger: Duration::from_secs(1),
            dump_on_exit: false,
            duration: None,
            filter: EventFilter::default(),
        }
    }
}

/// Why a `--ring` size is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RingSizeError {
    #[error("{0:?} is not a size like 64M, 512K or 1G")]
    Garbage(String),
    #[error("{0:?} is out of range: give from 64K to 4G")]
    Range(String),
}

/// Parses a ring size: a number with an optional binary unit, `K`, `M` or
/// `G` (`KiB`, `MiB`, `GiB` and `k`/`m`/`g` too; a bare number is bytes),
/// from [`MIN_RING_BYTES`] to [`MAX_RING_BYTES`].
pub fn parse_ring_size(s: &str) -> Result<u64, RingSizeError> {
    let text = s.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let garbage = || RingSizeError::Garbage(s.to_string());
    let number: u64 = digits.parse().map_err(|_| garbage())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(garbage()),
    };
    let bytes = number
        .checked_mul(1 << shift)
        .ok_or_else(|| RingSizeError::Range(s.to_string()))?;
    if (MIN_RING_BYTES..=MAX_RING_BYTES).contains(&bytes) {
        Ok(bytes)
    } else {
        Err(RingSizeError::Range(s.to_string()))
    }
}

/// Dumps asked for from outside (SIGUSR1), not yet taken.
#[derive(Clone, Debug, Default)]
pub struct DumpRequests(Arc<AtomicU64>);

impl DumpRequests {
    /// Asks for a dump (what a SIGUSR1 does).
    pub fn request(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// True when a dump was asked for since the last call.
    fn take(&self) -> bool {
        self.0.swap(0, Ordering::Relaxed) > 0
    }

    /// Requests made by SIGUSR1 from now on. Install before the (long)
    /// attach: SIGUSR1's default action kills the process. Must be called
    /// within a tokio runtime.
    pub fn on_sigusr1() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut usr1 = signal(SignalKind::user_defined1())?;
        let requests = Self::default();
        let sender = requests.clone();
        tokio::spawn(async move {
            while usr1.recv().await.is_some() {
                sender.request();
            }
        });
        Ok(requests)
    }
}

/// What the recorder holds, for progress lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryNote {
    /// Events taken from the stream.
    pub seen: u64,
    /// Events in the ring.
    pub held: u64,
    pub ring_used: u64,
    pub ring_bytes: u64,
    /// Triggers ignored because of the hold-off.
    pub held_off: u64,
}

/// What the flight recorder tells its caller as it runs.
pub enum Report<'a> {
    /// Once a second.
    Progress(HistoryNote),
    Dumped(&'a Dumped),
    /// A dump could not be written; recording goes on (the events stay in
    /// the ring for the next trigger).
    DumpFailed(&'a DumpError),
}

/// How the flight recorder ended.
#[derive(Debug)]
pub struct FlightEnd {
    pub stopped: Stopped,
    pub dumps: u64,
    pub failed_dumps: u64,
    pub note: HistoryNote,
}

/// How often triggers' windows and SIGUSR1 are looked at.
const TICK: Duration = Duration::from_millis(100);

/// Runs the flight recorder over `stream` until `opts.duration`, `stop`
/// or the end of the stream, writing dumps through `files`; `header` is
/// the recording's (each dump adds its window marker). A dump still
/// waiting at the end is written, its post-trigger window cut short.
pub async fn run(
    mut stream: EventStream,
    files: DumpFiles,
    header: Header,
    opts: &FlightOptions,
    requests: DumpRequests,
    stop: impl Future<Output = &'static str>,
    on_report: impl FnMut(Report<'_>),
) -> FlightEnd {
    let mut sink = FlightSink {
        window: Window::new(files, header, stream.stacks.clone(), opts),
        requests,
        on_report,
        dumps: 0,
        failed_dumps: 0,
        last_progress: Instant::now(),
    };
    let drive_opts = DriveOptions {
        duration: opts.duration,
        tick: Some(TICK),
    };
    let stopped = match drive(&mut stream, &drive_opts, stop, &mut sink).await {
        Ok(stopped) => stopped,
        Err(never) => match never {},
    };
    // A SIGUSR1 that came with the stop still gets its dump.
    if sink.requests.take() {
        sink.window.trigger(Trigger::Signal, Instant::now());
    }
    let last = sink.window.close(opts.dump_on_exit);
    sink.report(last);
    let note = sink.window.note();
    (sink.on_report)(Report::Progress(note));
    FlightEnd {
        stopped,
        dumps: sink.dumps,
        failed_dumps: sink.failed_dumps,
        note,
    }
}

/// The flight recorder's side of [`drive`].
struct FlightSink<R: FnMut(Report<'_>)> {
    window: Window,
    requests: DumpRequests,
    on_report: R,
    dumps: u64,
    failed_dumps: u64,
    last_progress: Instant,
}

impl<R: FnMut(Report<'_>)> FlightSink<R> {
    fn report(&mut self, dump: Option<Result<Dumped, DumpError>>) {
        match dump {
            Some(Ok(d)) => {
                self.dumps += 1;
                (self.on_report)(Report::Dumped(&d));
            }
            Some(Err(e)) => {
                self.failed_dumps += 1;
                (self.on_report)(Report::DumpFailed(&e));
            }
            None => {}
        }
    }

    fn signals(&mut self, now: Instant) {
        if self.requests.take() {
            self.window.trigger(Trigger::Signal, now);
        }
    }
}

impl<R: FnMut(Report<'_>)> Sink for FlightSink<R> {
    type Error = std::convert::Infallible;

    fn batch(&mut self, events: &[Event]) -> Result<(), Self::Error> {
        let now = Instant::now();
        self.signals(now);
        for event in events {
            let early = self.window.event(event, now);
            self.report(early);
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<(), Self::Error> {
        let now = Instant::now();
        self.signals(now);
        let due = self.window.tick(now);
        self.report(due);
        if now.duration_since(self.last_progress) >= Duration::from_secs(1) {
            self.last_progress = now;
            (self.on_report)(Report::Progress(self.window.note()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
