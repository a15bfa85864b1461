//! `daxtrace top`: the dashboard over the event stream, live or replayed.
//!
//! Split the way bottom and gitui split a TUI, one folder each:
//! - [`model`]: the data. The collector as the [`model::DashboardModel`],
//!   what the user chose ([`model::app`]: selection, sort, filter, pause,
//!   help), the event log, rates, and the plain [`model::view`] data;
//! - [`run`]: collection and the loop. [`run::intake`] drains the
//!   [`crate::source::EventStream`] into the model with bounded work per
//!   tick, [`run::dashboard`] ties model, intake and app together,
//!   [`run::interactive`] reacts to keys and redraws;
//! - [`ui`]: rendering. [`ui::frame`] turns state into the view once per
//!   refresh, [`ui`] draws it with ratatui, [`ui::batch`] prints it as text.
pub mod model;
pub mod run;
pub mod ui;

/// The dashboard could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

#[cfg(test)]
mod tests;
