//! The one event stream: live capture and trace replay both produce an
//! [`EventStream`], so the collector, recorder and TUI never care which.
//!
//! Events travel in batches ([`EventBatch`], at most [`BATCH_MAX`] events):
//! a channel operation per event cost more than decoding the event, and
//! made a replay into a consumer on another thread slower than reading the
//! file on one. Both sources produce events in bursts anyway (a ring buffer
//! drain, a read buffer of a file).
pub mod enrich;
pub mod live;
pub mod replay;

use crate::event::Event;
use crate::session::SessionInfo;
use crate::stacks::StackTable;
use tokio::sync::mpsc;

/// Events in source order; never empty when sent.
pub type EventBatch = Vec<Event>;

/// Most events a source puts in one batch.
pub const BATCH_MAX: usize = 1024;

/// Bound of the channel between a source and its consumer, in batches (so at
/// most `CHANNEL_BATCHES * BATCH_MAX` events wait). Sources never drop
/// events: when the consumer lags they wait (replay) or the kernel ring
/// buffer absorbs the burst and reports drops (live).
pub const CHANNEL_BATCHES: usize = 64;

/// A stream of events with what is known about where they come from.
pub struct EventStream {
    pub info: SessionInfo,
    pub events: mpsc::Receiver<EventBatch>,
    /// The kernel stacks the events name, filled by the source before it
    /// sends the first event naming each.
    pub stacks: StackTable,
}

impl EventStream {
    /// A stream fed through the returned sender (sources and tests).
    pub fn channel(info: SessionInfo) -> (Self, mpsc::Sender<EventBatch>) {
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let stream = Self {
            info,
            events: rx,
            stacks: StackTable::new(),
        };
        (stream, tx)
    }
}
