//! The binary ABI between daxtrace's eBPF programs and its userspace loader.
//!
//! Everything here is `#[repr(C)]`, `Copy` and free of enums with invalid bit
//! patterns, so a record read out of the ring buffer can be reinterpreted safely
//! whatever the kernel wrote. A record is an [`EventHeader`] followed by the
//! payload struct of its kind ([`payload`]); kinds are listed once in
//! [`for_each_kind!`].
//!
//! # Why one size per kind
//! Each kind's record is exactly `size_of::<Record<P>>()`: the programs reserve
//! a constant size per call site (what the verifier wants), the ring buffer
//! carries no padding for small kinds (a page idle is 72 bytes where one record
//! for all kinds would be 136), and userspace decodes with one length check and
//! one unaligned copy, the same code for the ring buffer and trace files.
#![no_std]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod config;
pub mod field;
pub mod kind;
pub mod kread;
pub mod payload;
pub mod probe;

pub use config::{Config, MAX_WATCHED_PAGES};
pub use field::{Dev, DiskName, Flag, NAME_LEN, OptU64};
pub use kind::Payload;

/// Length of the task command name (`TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// What every record starts with: when, where, who, and which kind follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct EventHeader {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// The payload's [`Payload::KIND`].
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
}

/// Size of an [`EventHeader`] on the wire.
pub const HEADER_SIZE: usize = core::mem::size_of::<EventHeader>();

/// One record as the programs write it: the header, then the payload.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<P: Payload> {
    pub header: EventHeader,
    pub payload: P,
}

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
    unsafe impl aya::Pod for super::PointCounters {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::PgmapPuts {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: plain integers and bytes, repr(C), no padding.
    unsafe impl aya::Pod for super::kread::KreadRequest {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::kread::KreadResult {}
    // SAFETY: a byte array.
    unsafe impl aya::Pod for super::kread::KreadBuffer {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_stable() {
        // 8 + 2 + 2 + 4 + 4 + 4 + 16: any change is an ABI break that must
        // bump the trace format version as well.
        assert_eq!(HEADER_SIZE, 40);
        assert_eq!(core::mem::align_of::<EventHeader>(), 8);
    }
}
