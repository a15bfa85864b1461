//! `daxtrace why`: why is this thread (or the threads of this process, or
//! the waiters on this file or mount) stuck? The binary attaches, reads the
//! state at start, watches a few seconds, and hands the folded state here:
//! [`diagnose`] names what each waiter sleeps on (page, file, offset, its
//! refcount against the kernel's idle rule, how long it has slept, in which
//! kind of sleep) and whether it moved during the watch; [`suspects`] lists
//! tasks asleep in direct I/O (pins taken before attach have no owner on
//! record). Documented in docs/why.md.
mod diagnose;
pub mod render;
mod suspects;
mod target;

pub use diagnose::{Progress, WaitDiagnosis, WatchLog, Why, diagnose, sleep_kind};
pub use suspects::{Suspect, pipe_holders, suspects};
pub use target::{Target, TargetError};

#[cfg(test)]
mod tests;
