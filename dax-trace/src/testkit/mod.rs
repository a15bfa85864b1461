//! Test generators, compiled for unit tests and behind the `testkit`
//! feature (integration tests, benches and examples turn it on): never part
//! of what the binary or a library user gets.
//!
//! - [`synthetic`]: the synthetic scenario behind the shipped sample trace, a
//!   page storm of any size and a session description;
//! - [`fleet`]: a synthetic fleet of pmem devices for the dashboard;
//! - [`refresh_bench`]: the dashboard's refresh cost over that fleet;
//! - `fixture`, `fixture_state` (unit tests only): short readable event
//!   scripts for the collector and every front end over it.
//!
//! Tests anywhere may use this module; it may use anything. The module
//! direction check counts no edge into it, since nothing outside tests can
//! reach it.
#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
pub(crate) mod fixture_state;
pub mod fleet;
pub mod refresh_bench;
pub mod synthetic;
