//! The dashboard's data: the seam between collector state and the screens
//! ([`DashboardModel`], asked once per refresh), the collector as that
//! model, the user's choices ([`app`]), the event log, rates, and the plain
//! view data ([`view`]) every screen draws from.
pub mod app;
mod at_start;
pub mod collector;
pub mod event_log;
mod event_log_state;
mod owners;
pub mod rate;
pub mod view;
mod waits;

use crate::event::Event;

use crate::tui::model::view::{Detail, PagemapRow};

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
