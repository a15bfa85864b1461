//! The aya-facing side: loading the eBPF object, attaching its programs to
//! the points the resolver planned for the running kernel (in parallel),
//! and rendering what attached. What attached is plain session data
//! ([`crate::session::probe_report`]); the ring buffer is read by
//! [`crate::source::live`].
pub mod attach;
pub mod object;
pub mod parallel;
pub mod render;
pub mod sizing;
