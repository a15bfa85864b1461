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

/// What a program could not keep, per attach point: a per-CPU array map
/// (`COUNTERS`) indexed by point. Only losses are counted: a count of runs
/// would cost every run of a hot program (the gup and put hooks) and nobody
/// reads it; `bpf_stats` gives runs when asked.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PointCounters {
    /// Ring buffer reservations that failed (events lost).
    pub drops: u64,
    /// Map inserts that failed (a full hash map: a stash, a wait span, a
    /// page's owners or a pagemap not kept).
    pub map_full: u64,
    /// Owners not kept because the page had all its owner slots taken by
    /// live owners.
    pub owner_overflow: u64,
    /// Kernel stacks that could not be stored (`bpf_get_stackid` failed).
    pub stack_lost: u64,
}

/// Why a program lost something: the `reason` of a userspace `Drops` event.
/// Numbers are part of the trace format (0 is what traces written before
/// reasons existed carry): append only.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Loss {
    /// An event the ring buffer had no room for.
    RingFull = 0,
    /// A map insert that failed.
    MapFull = 1,
    /// An owner that found no free slot on its page.
    OwnerOverflow = 2,
    /// A kernel stack that was not stored.
    StackLost = 3,
}

impl Loss {
    pub const ALL: [Loss; 4] = [
        Loss::RingFull,
        Loss::MapFull,
        Loss::OwnerOverflow,
        Loss::StackLost,
    ];

    /// The reason of a `Drops` event; `None` for a number this build does not know.
    pub const fn from_u16(v: u16) -> Option<Self> {
        match v {
            0 => Some(Self::RingFull),
            1 => Some(Self::MapFull),
            2 => Some(Self::OwnerOverflow),
            3 => Some(Self::StackLost),
            _ => None,
        }
    }

    /// The stable kebab-case name (JSON, metrics labels).
    pub const fn name(self) -> &'static str {
        match self {
            Self::RingFull => "ring-full",
            Self::MapFull => "map-full",
            Self::OwnerOverflow => "owner-overflow",
            Self::StackLost => "stack-lost",
        }
    }

    /// This counter of `c`.
    pub const fn of(self, c: &PointCounters) -> u64 {
        match self {
            Self::RingFull => c.drops,
            Self::MapFull => c.map_full,
            Self::OwnerOverflow => c.owner_overflow,
            Self::StackLost => c.stack_lost,
        }
    }
}

/// The struct pages of FS-DAX memory lie in `[lo, hi)` (one entry of the
/// array map `FSDAX_SPAN`): the pages of every FS-DAX pagemap known, and
/// perhaps of gaps between them. A page outside is not FS-DAX, decided
/// from its address alone before anything is read; one inside is checked
/// against the pagemap set. `hi == 0`: no FS-DAX memory known.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageSpan {
    pub lo: u64,
    pub hi: u64,
}

impl PageSpan {
    /// The span that also covers `[lo, hi)`.
    pub const fn widened(self, lo: u64, hi: u64) -> Self {
        if self.hi == 0 {
            return Self { lo, hi };
        }
        Self {
            lo: if lo < self.lo { lo } else { self.lo },
            hi: if hi > self.hi { hi } else { self.hi },
        }
    }

    /// `page` may be FS-DAX.
    pub const fn covers(&self, page: u64) -> bool {
        page >= self.lo && page < self.hi
    }
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
    unsafe impl aya::Pod for super::PageSpan {}
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
    fn a_page_span_grows_to_cover_every_range_and_nothing_before_the_first() {
        let none = PageSpan::default();
        assert!(!none.covers(0x1000), "an empty span covers nothing");
        let one = none.widened(0x2000, 0x3000);
        assert_eq!(
            one,
            PageSpan {
                lo: 0x2000,
                hi: 0x3000
            }
        );
        assert!(one.covers(0x2000) && one.covers(0x2fff));
        assert!(!one.covers(0x3000) && !one.covers(0x1fff));
        let two = one.widened(0x1000, 0x1800);
        assert_eq!(
            two,
            PageSpan {
                lo: 0x1000,
                hi: 0x3000
            }
        );
        assert_eq!(two.widened(0x1800, 0x2800), two);
    }

    #[test]
    fn loss_reasons_round_trip_and_read_their_own_counter() {
        let c = PointCounters {
            drops: 1,
            map_full: 2,
            owner_overflow: 3,
            stack_lost: 4,
        };
        for (i, loss) in Loss::ALL.iter().enumerate() {
            assert_eq!(Loss::from_u16(*loss as u16), Some(*loss));
            assert_eq!(loss.of(&c), i as u64 + 1, "{}", loss.name());
        }
        assert_eq!(Loss::from_u16(4), None);
    }

    #[test]
    fn header_layout_is_stable() {
        // 8 + 2 + 2 + 4 + 4 + 4 + 16: any change is an ABI break that must
        // bump the trace format version as well.
        assert_eq!(HEADER_SIZE, 40);
        assert_eq!(core::mem::align_of::<EventHeader>(), 8);
    }
}
