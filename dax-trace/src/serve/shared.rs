//! The exporter's shared state: one collector (plus [`OutcomeCounts`]) behind a mutex,
//! fed by the intake task and read by scrapes.
//!
//! Intake (a thread of its own) takes the lock once per batch of events (at most
//! [`crate::source::BATCH_MAX`]); a scrape takes it only to copy the numbers
//! into a [`super::scrape::Scrape`] (bounded by the collector's caps),
//! never while encoding or writing to a client. A slow client therefore
//! holds nothing the intake needs.
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::collector::Collector;
use crate::session::SessionInfo;
use tokio::sync::mpsc;

use crate::source::program_costs::ProgramCosts;
use crate::source::{EventBatch, EventStream, SourceEnd};

use super::outcomes::OutcomeCounts;

/// Where the events come from, for clocks and `/healthz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Probes attached; ages are measured on CLOCK_MONOTONIC, like event times.
    Live,
    /// A trace file; ages are measured on the trace's own clock (its newest event).
    Replay,
}

/// Everything scrapes read.
#[derive(Debug)]
pub struct ServeState {
    pub collector: Collector,
    pub outcomes: OutcomeCounts,
    pub info: SessionInfo,
    pub mode: Mode,
    /// When the intake last folded an event (process clock).
    pub last_event_at: Option<Instant>,
    /// The source ended (end of the replayed file, or the live pump stopped).
    pub source_ended: bool,
    /// Why the source failed, when it did (then the served state is
    /// incomplete and /healthz says so).
    pub source_failure: Option<String>,
    /// Batches folded, for the intake's own health.
    pub batches: u64,
    /// The live capture's programs, for the self-metrics.
    pub programs: Option<ProgramCosts>,
}

/// The state shared by intake and scrapes.
#[derive(Clone, Debug)]
pub struct Shared(Arc<Mutex<ServeState>>);

impl Shared {
    pub fn new(info: SessionInfo, mode: Mode) -> Self {
        Self(Arc::new(Mutex::new(ServeState {
            collector: Collector::default(),
            outcomes: OutcomeCounts::default(),
            info,
            mode,
            last_event_at: None,
            source_ended: false,
            source_failure: None,
            batches: 0,
            programs: None,
        })))
    }

    /// The state, even if a thread panicked while holding it (the numbers
    /// stay readable; a panic in a fold is a bug reported in its own log).
    pub fn lock(&self) -> MutexGuard<'_, ServeState> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Folds every batch of `events` into `shared` until the source ends, then
/// marks it ended (the final state keeps being served). Runs on a thread of
/// its own, so no amount of HTTP work on the runtime can delay it.
pub fn intake(shared: &Shared, mut events: mpsc::Receiver<EventBatch>, ended: &SourceEnd) {
    while let Some(batch) = events.blocking_recv() {
        let mut state = shared.lock();
        let ServeState {
            collector,
            outcomes,
            ..
        } = &mut *state;
        for event in &batch {
            outcomes.ingest(collector, event);
        }
        state.batches += 1;
        state.last_event_at = Some(Instant::now());
    }
    let failure = ended.failure();
    match &failure {
        Some(reason) => log::error!("event source failed: {reason}; serving what came before"),
        None => log::info!("event source ended; serving the final state"),
    }
    let mut state = shared.lock();
    state.source_ended = true;
    state.source_failure = failure;
}

/// Starts the intake thread for `stream`; returns the state it fills.
pub fn start(
    stream: EventStream,
    mode: Mode,
) -> std::io::Result<(Shared, std::thread::JoinHandle<()>)> {
    let EventStream {
        info,
        events,
        stacks: _,
        stop: _,
        ended,
        programs,
    } = stream;
    let shared = Shared::new(info, mode);
    shared.lock().programs = programs;
    let filling = shared.clone();
    let thread = std::thread::Builder::new()
        .name("daxtrace-intake".into())
        .spawn(move || intake(&filling, events, &ended))?;
    Ok((shared, thread))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::synthetic;

    #[test]
    fn intake_folds_every_event_and_marks_the_end() {
        let (stream, tx) = EventStream::channel(synthetic::session());
        let (shared, thread) = start(stream, Mode::Replay).expect("starts");
        let events = synthetic::scenario();
        tx.blocking_send(events.clone()).expect("send");
        tx.end();
        thread.join().expect("intake ends");
        let state = shared.lock();
        assert!(state.source_ended);
        assert_eq!(state.source_failure, None);
        assert_eq!(state.collector.totals().events, events.len() as u64);
        let by_point: u64 = state.outcomes.events_by_point.values().sum();
        assert_eq!(by_point, events.len() as u64);
    }

    #[test]
    fn intake_records_a_failed_source() {
        let (stream, tx) = EventStream::channel(synthetic::session());
        let (shared, thread) = start(stream, Mode::Replay).expect("starts");
        tx.fail("reading the trace failed");
        thread.join().expect("intake ends");
        let state = shared.lock();
        assert!(state.source_ended);
        assert_eq!(
            state.source_failure.as_deref(),
            Some("reading the trace failed")
        );
    }
}
