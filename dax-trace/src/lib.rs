//! daxtrace: observe the Linux filesystem-DAX page lifecycle with eBPF.
//!
//! The crate is split the way the data flows (see docs/architecture.md):
//! live capture ([`source::live`], over the programs [`probes`] attaches) and
//! trace replay ([`source::replay`]) both produce [`event::Event`]s into one
//! [`source::EventStream`]; the [`collector`] folds them into state; the front
//! ends ([`check`], [`report`], [`recorder`], [`export`], [`serve`], [`tui`])
//! judge, render, record or serve it.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
pub mod check;
pub mod clock;
pub mod collector;
pub mod comm;
pub mod daxmode;
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
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod trace;
pub mod tui;
pub mod why;
