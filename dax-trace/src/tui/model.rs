//! The seam between collector state and the dashboard: what the screens need
//! to know about pagemaps, asked once per refresh.
use crate::event::Event;

use super::view::{Detail, PagemapRow};

/// State the dashboard can feed events into and draw from.
pub trait DashboardModel {
    /// Folds one event into the state.
    fn ingest(&mut self, event: &Event);
    /// One row per pagemap/device, unsorted, with cumulative `faults_total`
    /// (`faults_per_sec` is filled in by the dashboard). `now_ns` is the
    /// current time on the events' clock, for ages.
    fn rows(&self, now_ns: u64) -> Vec<PagemapRow>;
    /// The detail pane of the row with `key`.
    fn detail(&self, key: u64, now_ns: u64) -> Option<Detail>;
}
