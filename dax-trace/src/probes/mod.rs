//! Kernel side: resolving attach points on the running kernel, loading and
//! attaching the eBPF programs, and turning the ring buffer into events.
pub mod attach;
pub mod object;
pub mod parallel;
pub mod render;
pub mod report;
