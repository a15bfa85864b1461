//! The one event stream: live capture and trace replay both produce an
//! [`EventStream`], so the collector, recorder and TUI never care which.
//!
//! Events travel in batches ([`EventBatch`], at most [`BATCH_MAX`] events):
//! a channel operation per event cost more than decoding the event, and
//! made a replay into a consumer on another thread slower than reading the
//! file on one. Both sources produce events in bursts anyway (a ring buffer
//! drain, a read buffer of a file).
pub mod drive;
pub mod enrich;
mod fault_tally;
pub mod feed;
pub mod file_path;
pub mod live;
mod owner_table;
pub mod pagemap_owner;
pub mod program_costs;
mod pump;
pub mod replay;

use std::sync::Arc;
use std::time::Duration;

use crate::event::Event;
use crate::session::SessionInfo;
use crate::stacks::StackTable;
use tokio::sync::{Notify, mpsc};

pub use feed::{Feed, SourceEnd};

/// Events in source order; never empty when sent.
pub type EventBatch = Vec<Event>;

/// Most events a source puts in one batch.
pub const BATCH_MAX: usize = 1024;

/// Bound of the channel between a source and its consumer, in batches (so at
/// most `CHANNEL_BATCHES * BATCH_MAX` events wait). Sources never drop
/// events: when the consumer lags they wait (replay) or the kernel ring
/// buffer absorbs the burst and reports drops (live).
pub const CHANNEL_BATCHES: usize = 64;

/// How long [`EventStream::finish`] waits for the source to end the stream
/// after asking it to. Live capture ends it as soon as its last drain is
/// sent, which can take a while: a batch being symbolized when the stop
/// comes finishes first (under TCG a kallsyms re-read after a module load
/// took about 1.5 s in the VM tests). Only a source that does not listen
/// (a test's channel) waits the whole grace.
pub const FINISH_GRACE: Duration = Duration::from_secs(10);

/// A stream of events with what is known about where they come from.
pub struct EventStream {
    pub info: SessionInfo,
    pub events: mpsc::Receiver<EventBatch>,
    /// The kernel stacks the events name, filled by the source before it
    /// sends the first event naming each.
    pub stacks: StackTable,
    /// Asks the source to send what it still holds and end the stream.
    pub stop: StopRequest,
    /// Whether the source failed, once the events channel is closed: a
    /// failed source is not the end of a trace.
    pub ended: SourceEnd,
    /// The programs of a live capture, for what they cost (`None` for a
    /// replay).
    pub programs: Option<program_costs::ProgramCosts>,
}

impl EventStream {
    /// A stream fed through the returned [`Feed`] (sources and tests). The
    /// source listens to `stream.stop` (cloned before the stream is handed
    /// out) to know when to send its last events and end the feed.
    pub fn channel(info: SessionInfo) -> (Self, Feed) {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let ended = SourceEnd::default();
        let stream = Self {
            info,
            events: rx,
            stacks: StackTable::new(),
            stop: StopRequest::default(),
            ended: ended.clone(),
            programs: None,
        };
        (stream, Feed::new(tx, ended))
    }

    /// Ends the stream without losing what the source still holds: asks the
    /// source to stop (live capture then drains the kernel ring buffer one
    /// last time) and returns every batch that arrives until the source
    /// closes the stream, or until [`FINISH_GRACE`] has passed.
    pub async fn finish(&mut self) -> Vec<EventBatch> {
        self.stop.request();
        let deadline = tokio::time::Instant::now() + FINISH_GRACE;
        let mut rest = Vec::new();
        while let Ok(Some(batch)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            rest.push(batch);
        }
        rest
    }
}

/// A consumer's request that the source end its stream. Requesting before
/// the source listens is not lost: the request is remembered.
#[derive(Clone, Debug, Default)]
pub struct StopRequest(Arc<Notify>);

impl StopRequest {
    /// Asks the source to stop.
    pub fn request(&self) {
        self.0.notify_one();
    }

    /// Resolves once a stop was requested.
    pub async fn requested(&self) {
        self.0.notified().await;
    }
}
