//! Recording, the front end of `daxtrace record` (beside `check`, so that
//! `trace` is the file format only): drains an [`EventStream`] (live or
//! replayed, the recorder does not care) into a [`Writer`] until a duration
//! elapses, a stop signal comes or the stream ends, then writes the summary.
//!
//! Buffered records are flushed once a second (and a progress callback runs),
//! so a recorder killed with SIGKILL loses at most about a second of events;
//! the file then reads as truncated with every flushed record intact.
pub mod device;
pub mod flight;
use std::collections::HashSet;
use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::event::{Dev, Event};
use crate::source::EventStream;
use crate::source::drive::{DriveOptions, Sink, Stopped, drive};
use crate::stacks::{StackTable, stack_of};
use crate::trace::{Summary, TraceError, Writer};

/// What to record and for how long.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Stop after this long; `None`: until stopped or the stream ends.
    pub duration: Option<Duration>,
    pub filter: EventFilter,
    /// How often buffered records reach the OS and progress is reported.
    pub flush_every: Duration,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            duration: None,
            filter: EventFilter::default(),
            flush_every: Duration::from_secs(1),
        }
    }
}

/// Which events to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Keep only events about this block device, the state at start
    /// included (a dm target is kept when the device is its dm device or a
    /// member). Events that name no device (pagemap, dax_device, idle and
    /// stats events) are always kept: which device they belong to is only
    /// known by following the whole stream.
    pub dev: Option<Dev>,
}

impl EventFilter {
    /// True when `event` passes the filter.
    pub fn keeps(&self, event: &Event) -> bool {
        match self.dev {
            Some(want) => {
                let devs = event.body.devices();
                devs.is_empty() || devs.contains(&want)
            }
            None => true,
        }
    }

    /// The filter as header strings (`dev=259:0`).
    pub fn describe(&self) -> Vec<String> {
        self.dev.iter().map(|d| format!("dev={d}")).collect()
    }
}

/// Where a recording is, for progress lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub events: u64,
    pub drops: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// How a recording ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Recorded {
    /// The file holds its closing summary.
    Finished(Summary),
    /// The source failed: the file holds the `events` written before, and
    /// no summary, so it reads as truncated (never as complete).
    SourceFailed { reason: String, events: u64 },
}

/// Records `stream` into `writer` until `opts.duration` elapses, `stop`
/// resolves (to the end reason, e.g. `"interrupted"`) or the stream ends
/// (see [`drive`]). Events already queued when stopping are still written.
/// Returns how it ended and the inner writer (flushed, not synced).
pub async fn record<W: Write>(
    mut stream: EventStream,
    writer: Writer<W>,
    opts: &RecordOptions,
    stop: impl Future<Output = &'static str>,
    on_progress: impl FnMut(&Progress),
) -> Result<(Recorded, W), TraceError> {
    let mut sink = RecordSink {
        stacks: StacksWritten {
            table: stream.stacks.clone(),
            written: HashSet::new(),
        },
        writer,
        filter: &opts.filter,
        started: Instant::now(),
        on_progress,
    };
    let drive_opts = DriveOptions {
        duration: opts.duration,
        tick: Some(opts.flush_every),
    };
    let stopped = drive(&mut stream, &drive_opts, stop, &mut sink).await?;
    sink.progress();
    let RecordSink { writer, .. } = sink;
    match stopped {
        Stopped::SourceFailed(reason) => {
            let events = writer.events();
            let out = writer.abandon()?;
            Ok((Recorded::SourceFailed { reason, events }, out))
        }
        other => {
            let (summary, out) = writer.finish(other.reason())?;
            Ok((Recorded::Finished(summary), out))
        }
    }
}

/// The recorder's side of [`drive`]: filters and writes each batch,
/// flushes and reports progress on each tick.
struct RecordSink<'a, W: Write, P: FnMut(&Progress)> {
    writer: Writer<W>,
    filter: &'a EventFilter,
    stacks: StacksWritten,
    started: Instant,
    on_progress: P,
}

impl<W: Write, P: FnMut(&Progress)> RecordSink<'_, W, P> {
    fn progress(&mut self) {
        (self.on_progress)(&Progress {
            events: self.writer.events(),
            drops: self.writer.drops(),
            bytes: self.writer.bytes(),
            elapsed: self.started.elapsed(),
        });
    }
}

impl<W: Write, P: FnMut(&Progress)> Sink for RecordSink<'_, W, P> {
    type Error = TraceError;

    fn batch(&mut self, events: &[Event]) -> Result<(), TraceError> {
        write_batch(&mut self.writer, self.filter, &mut self.stacks, events)
    }

    fn tick(&mut self) -> Result<(), TraceError> {
        self.writer.flush()?;
        self.progress();
        Ok(())
    }
}

/// The stream's stacks and which of them the file already holds: each is
/// written once, before the first event that names it.
struct StacksWritten {
    table: StackTable,
    written: HashSet<u32>,
}

fn write_batch<W: Write>(
    writer: &mut Writer<W>,
    filter: &EventFilter,
    stacks: &mut StacksWritten,
    batch: &[Event],
) -> Result<(), TraceError> {
    for event in batch {
        if filter.keeps(event) {
            let id = stack_of(&event.body);
            if let Some(n) = id.get()
                && !stacks.written.contains(&n)
                && let Some(stack) = stacks.table.get(id)
            {
                writer.write_stack(&stack)?;
                stacks.written.insert(n);
            }
            writer.write_event(event)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
