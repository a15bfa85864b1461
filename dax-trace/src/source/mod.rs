//! The one event stream: live capture and trace replay both produce an
//! [`EventStream`], so the collector, recorder and TUI never care which.
pub mod live;
pub mod replay;

use crate::event::Event;
use crate::session::SessionInfo;
use tokio::sync::mpsc;

/// Bound of the channel between a source and its consumer. Sources never drop
/// events: when the consumer lags they wait (replay) or the kernel ring buffer
/// absorbs the burst and reports drops (live).
pub const CHANNEL_CAPACITY: usize = 65_536;

/// A stream of events with what is known about where they come from.
pub struct EventStream {
    pub info: SessionInfo,
    pub events: mpsc::Receiver<Event>,
}
