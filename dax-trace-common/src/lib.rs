//! The binary ABI between daxtrace's eBPF programs and its userspace loader.
//!
//! Everything here is `#[repr(C)]`, `Copy` and free of enums with invalid bit
//! patterns, so a record read out of the ring buffer can be reinterpreted safely
//! whatever the kernel wrote. One fixed-size [`RawEvent`] carries every event
//! kind: the meaning of its `a` slots per kind is documented on each constant
//! in [`kind`] and decoded in one place (`dax_trace::event::decode`).
#![no_std]

pub mod config;
pub mod kind;
pub mod probe;

pub use config::{Config, MAX_WATCHED_PAGES};

/// Length of the task command name (`TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;
/// Length of the device name slot (`DISK_NAME_LEN` is 32).
pub const NAME_LEN: usize = 32;
/// Number of kind-specific 64-bit slots in a [`RawEvent`].
pub const ARGS: usize = 8;

/// One event as the eBPF programs write it to the ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawEvent {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// One of the constants in [`kind`].
    pub kind: u16,
    /// The attach point that produced the event: an index into [`probe::POINTS`].
    pub point: u16,
    /// CPU the event was produced on.
    pub cpu: u32,
    /// Thread group id (user-visible pid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// `current->comm`, NUL padded.
    pub comm: [u8; COMM_LEN],
    /// Kind-specific values, see [`kind`].
    pub a: [u64; ARGS],
    /// Kind-specific name (disk name for claims), NUL padded.
    pub name: [u8; NAME_LEN],
}

impl RawEvent {
    /// An all-zero event, the starting point for the programs.
    pub const fn zeroed() -> Self {
        Self {
            ts_ns: 0,
            kind: 0,
            point: 0,
            cpu: 0,
            pid: 0,
            tid: 0,
            comm: [0; COMM_LEN],
            a: [0; ARGS],
            name: [0; NAME_LEN],
        }
    }
}

/// Size of a [`RawEvent`] on the wire; checked by a test so both sides agree.
pub const RAW_EVENT_SIZE: usize = core::mem::size_of::<RawEvent>();

/// Per-point counters kept in a per-CPU array map (`COUNTERS`), indexed by point.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PointCounters {
    /// Times the program ran.
    pub hits: u64,
    /// Ring buffer reservations that failed (events lost).
    pub drops: u64,
    /// Kernel reads (`bpf_probe_read_kernel`) that failed.
    pub read_errors: u64,
}

/// Per-pagemap put statistics, a per-CPU hash map (`PGMAP_PUTS`) keyed by the
/// `dev_pagemap` pointer. Puts are far too hot to stream one by one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PgmapPuts {
    /// Every put seen on a page of this pagemap.
    pub puts: u64,
    /// Puts that left the page idle by the kernel generation's rule.
    pub idles: u64,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, repr(C), every bit pattern valid.
    unsafe impl aya::Pod for super::RawEvent {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PointCounters {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PgmapPuts {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Config {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_event_layout_is_stable() {
        // 8 + 2 + 2 + 4 + 4 + 4 + 16 + 64 + 32: any change is an ABI break that
        // must bump the trace format version as well.
        assert_eq!(RAW_EVENT_SIZE, 136);
        assert_eq!(core::mem::align_of::<RawEvent>(), 8);
    }
}
