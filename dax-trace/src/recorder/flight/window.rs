//! The flight recorder's state between dumps, free of I/O timing: the
//! state at start (kept whole: every dump must stand on its own), the ring
//! of the last events, the trigger waiting for its post-trigger window to
//! pass, and the writing of one dump. Time is passed in, so the tests
//! drive it without sleeping.
use std::path::PathBuf;
use std::time::Instant;

use super::files::{DumpError, DumpFiles};
use super::ring::ByteRing;
use super::trigger::{Armed, HoldOff, Trigger};
use super::{FlightOptions, HistoryNote};
use crate::event::{Event, EventBody};
use crate::recorder::{EventFilter, StacksWritten, write_batch};
use crate::source::BATCH_MAX;
use crate::stacks::StackTable;
use crate::trace::{FLIGHT_WINDOW, Header, Summary, TraceError, Writer};

/// One dump written.
#[derive(Clone, Debug, PartialEq)]
pub struct Dumped {
    pub path: PathBuf,
    /// What made it, the first one first.
    pub triggers: Vec<Trigger>,
    /// Its closing summary (events, the window's first and last times).
    pub summary: Summary,
}

/// A trigger whose dump waits for the events that follow it.
#[derive(Debug)]
struct Pending {
    triggers: Vec<Trigger>,
    due: Instant,
    /// Bytes of events pushed since the trigger: at half the ring the
    /// dump is written early, so the history before it is not pushed out.
    bytes_since: usize,
}

/// Everything between the stream and the dump files.
pub struct Window {
    files: DumpFiles,
    header: Header,
    stacks: StackTable,
    filter: EventFilter,
    armed: Armed,
    post_trigger: std::time::Duration,
    /// The leading `state-*` events of the stream (the state at start).
    state: Vec<Event>,
    state_open: bool,
    ring: ByteRing,
    hold: HoldOff,
    pending: Option<Pending>,
    /// Events taken from the stream (before the filter).
    pub seen: u64,
}

impl Window {
    pub fn new(files: DumpFiles, header: Header, stacks: StackTable, opts: &FlightOptions) -> Self {
        Self {
            files,
            header,
            stacks,
            filter: opts.filter.clone(),
            armed: opts.armed.clone(),
            post_trigger: opts.post_trigger,
            state: Vec::new(),
            state_open: true,
            ring: ByteRing::new(usize::try_from(opts.ring_bytes).unwrap_or(usize::MAX)),
            hold: HoldOff::new(opts.hold_off),
            pending: None,
            seen: 0,
        }
    }

    /// Takes one event at `now`; returns the dump it completed early, if
    /// any (post-trigger events filling half the ring).
    pub fn event(&mut self, event: &Event, now: Instant) -> Option<Result<Dumped, DumpError>> {
        self.seen += 1;
        if !self.filter.keeps(event) {
            return None;
        }
        // Bounded like the ring: a state at start larger than it would
        // hold (many busy pages) goes on into the ring.
        if self.state_open
            && is_state(&event.body)
            && self.state.len() < self.ring.capacity() / super::ring::LARGEST
        {
            self.state.push(event.clone());
            return None;
        }
        self.state_open = false;
        let (_, bytes) = self.ring.push(event);
        if let Some(p) = self.pending.as_mut() {
            p.bytes_since += bytes;
        }
        if let Some(trigger) = self.armed.matches(event) {
            self.trigger(trigger, now);
        }
        let half_full = self
            .pending
            .as_ref()
            .is_some_and(|p| 2 * p.bytes_since + 2 * super::ring::LARGEST >= self.ring.capacity());
        half_full.then(|| self.dump())
    }

    /// A trigger at `now`: opens a dump due after the post-trigger window,
    /// joins the one already waiting, or is held off.
    pub fn trigger(&mut self, trigger: Trigger, now: Instant) {
        if let Some(p) = self.pending.as_mut() {
            if !p.triggers.contains(&trigger) {
                p.triggers.push(trigger);
            }
            return;
        }
        if self.hold.admit(trigger, now) {
            self.pending = Some(Pending {
                triggers: vec![trigger],
                due: now + self.post_trigger,
                bytes_since: 0,
            });
        }
    }

    /// Writes the waiting dump when its post-trigger window has passed.
    pub fn tick(&mut self, now: Instant) -> Option<Result<Dumped, DumpError>> {
        let due = self.pending.as_ref().is_some_and(|p| now >= p.due);
        due.then(|| self.dump())
    }

    /// Whether a dump waits for its post-trigger window.
    #[cfg(test)]
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// The last dump at the end: the waiting one (its window cut short),
    /// else with `exit` one of what the ring holds.
    pub fn close(&mut self, exit: bool) -> Option<Result<Dumped, DumpError>> {
        if self.pending.is_none() && exit {
            self.pending = Some(Pending {
                triggers: vec![Trigger::Exit],
                due: Instant::now(),
                bytes_since: 0,
            });
        }
        self.pending.is_some().then(|| self.dump())
    }

    /// What the recorder holds, for progress lines.
    pub fn note(&self) -> HistoryNote {
        HistoryNote {
            seen: self.seen,
            held: self.ring.len(),
            ring_used: self.ring.used() as u64,
            ring_bytes: self.ring.capacity() as u64,
            held_off: self.hold.held(),
        }
    }

    /// Writes the waiting dump (the state at start, then the ring).
    fn dump(&mut self) -> Result<Dumped, DumpError> {
        let triggers = self.pending.take().map(|p| p.triggers).unwrap_or_default();
        let names: Vec<&str> = triggers.iter().map(|t| t.name()).collect();
        let names = names.join(",");
        let mut header = self.header.clone();
        header.filters.push(format!("{FLIGHT_WINDOW}{names}"));
        let end_reason = format!("flight-recorder dump ({names})");
        let (state, ring, stacks) = (&self.state, &self.ring, &self.stacks);
        let (path, summary) = self.files.write(|file| {
            let mut writer = Writer::to_file(file, &header)?;
            let mut written = StacksWritten {
                table: stacks.clone(),
                written: Default::default(),
            };
            let keep_all = EventFilter::default();
            write_batch(&mut writer, &keep_all, &mut written, state)?;
            let mut batch = Vec::with_capacity(BATCH_MAX);
            for event in ring.events() {
                // Encoded by this process a moment ago: never undecodable.
                batch.push(event.map_err(|e| TraceError::Write(std::io::Error::other(e)))?);
                if batch.len() == BATCH_MAX {
                    write_batch(&mut writer, &keep_all, &mut written, &batch)?;
                    batch.clear();
                }
            }
            write_batch(&mut writer, &keep_all, &mut written, &batch)?;
            writer.finish_file(&end_reason)
        })?;
        Ok(Dumped {
            path,
            triggers,
            summary,
        })
    }
}

/// The kinds of the state at start (and of its updates).
fn is_state(body: &EventBody) -> bool {
    matches!(
        body,
        EventBody::StatePagemap(_)
            | EventBody::StateDaxDevice(_)
            | EventBody::StateMount(_)
            | EventBody::StateDmTarget(_)
            | EventBody::StateWait(_)
            | EventBody::StateBusyPage(_)
            | EventBody::StateEnd(_)
            | EventBody::StateDaxMode(_)
    )
}
