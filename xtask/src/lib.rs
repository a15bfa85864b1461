//! daxtrace's developer tasks as a library, so tasks can use each other
//! (e.g. the test pipeline boots VMs through [`vm::run`]).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
pub mod vm;
