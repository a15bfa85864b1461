//! `daxtrace top`: the dashboard over the event stream, live or replayed.
//!
//! Split the way bottom and gitui split a TUI:
//! - collection: [`intake`] drains the [`crate::source::EventStream`] into the
//!   [`model::DashboardModel`] (the collector) with bounded work per tick;
//! - state: [`app`] holds what the user chose (selection, sort, filter,
//!   pause, help), [`dashboard`] ties model, intake and app together;
//! - rendering: [`frame`] turns state into the [`view`] model once per
//!   refresh, [`ui`] draws it with ratatui, [`batch`] prints it as text.
pub mod app;
pub mod batch;
pub mod bench;
pub mod collector_model;
pub mod columns;
pub mod dashboard;
pub mod event_log;
mod event_log_state;
pub mod fleet;
pub mod frame;
pub mod intake;
pub mod interactive;
pub mod keys;
pub mod model;
mod owner_model;
pub mod rate;
mod state_model;
pub mod terminal;
pub mod ui;
pub mod view;
mod wait_model;

/// The dashboard could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

#[cfg(test)]
mod owner_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wait_tests;
