//! daxtrace: observe the Linux filesystem-DAX page lifecycle with eBPF.
//!
//! The crate is split the way the data flows (see docs/architecture.md):
//! [`probes`] (live capture) and trace replay both produce [`event::Event`]s into
//! one stream; the collector folds them into state; front ends (top, report,
//! check, export) render that state.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
pub mod check;
pub mod clock;
pub mod collector;
pub mod comm;
pub mod event;
pub mod export;
pub mod human;
pub mod json;
pub mod probes;
pub mod recorder;
pub mod report;
pub mod resolve;
pub mod serve;
pub mod session;
pub mod source;
pub mod stacks;
pub mod state;
pub mod symbolize;
pub mod trace;
pub mod tui;
