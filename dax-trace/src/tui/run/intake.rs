//! Event intake: drains the source channel into the model each tick. Work per
//! call is bounded so rendering and keys stay responsive; nothing is ever
//! discarded, events beyond the budget simply wait in the channel for the
//! next call (the source then applies back-pressure).
use std::collections::HashMap;

use tokio::sync::mpsc::{self, error::TryRecvError};

use crate::event::{Event, EventBody};
use crate::source::EventBatch;
use crate::tui::model::DashboardModel;
use crate::tui::model::event_log::EventLog;

/// Default events folded per drain call (rounded up to whole batches): at
/// 20 calls per second this is 2 M events/s before intake falls behind.
pub const DRAIN_BUDGET: usize = 100_000;

/// What a drain call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// The channel is empty for now.
    Empty,
    /// The budget was used up and more events are waiting.
    MoreWaiting,
    /// The source is gone and every event has been taken.
    Closed,
}

/// Counters and log kept beside the model while events flow.
#[derive(Debug, Default)]
pub struct Intake {
    pub events_total: u64,
    /// Timestamp of the newest event (the trace clock).
    pub newest_ts_ns: u64,
    /// Timestamp of the first event.
    pub first_ts_ns: Option<u64>,
    pub closed: bool,
    /// The source's own account of how it ended ("truncated at byte ..."),
    /// when it gives one.
    pub end_note: Option<String>,
    pub log: EventLog,
    drops_by_point: HashMap<u16, u64>,
}

impl Intake {
    /// Feeds one event to the model and to the counters.
    pub fn ingest<M: DashboardModel>(&mut self, model: &mut M, event: &Event) {
        model.ingest(event);
        self.events_total += 1;
        self.newest_ts_ns = self.newest_ts_ns.max(event.ts_ns);
        self.first_ts_ns.get_or_insert(event.ts_ns);
        if let EventBody::Drops(d) = event.body
            && d.reason == dax_trace_common::Loss::RingFull as u16
        {
            self.drops_by_point.insert(d.point, d.total);
        }
        self.log.push(event);
    }

    /// Takes waiting batches without blocking until at least `budget`
    /// events were taken (a batch is never split).
    pub fn drain<M: DashboardModel>(
        &mut self,
        rx: &mut mpsc::Receiver<EventBatch>,
        model: &mut M,
        budget: usize,
    ) -> Drain {
        let mut taken = 0;
        while taken < budget {
            match rx.try_recv() {
                Ok(batch) => {
                    taken += batch.len();
                    for event in &batch {
                        self.ingest(model, event);
                    }
                }
                Err(TryRecvError::Empty) => return Drain::Empty,
                Err(TryRecvError::Disconnected) => {
                    self.closed = true;
                    return Drain::Closed;
                }
            }
        }
        Drain::MoreWaiting
    }

    /// Events lost in the kernel so far (latest cumulative total per point).
    pub fn drops(&self) -> u64 {
        self.drops_by_point.values().sum()
    }
}
