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
#![deny(missing_docs)]

pub mod config;
pub mod fault_count;
pub mod field;
pub mod kind;
pub mod kread;
pub mod memory;
pub mod payload;
pub mod probe;

pub use config::{Config, MAX_ORPHANED_PAGES, MAX_WATCHED_PAGES};
pub use fault_count::{FaultKey, MAX_FAULT_KEYS};
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
    /// When, on which CPU, by which task, and `P::KIND`.
    pub header: EventHeader,
    /// The kind's payload, filled by the handler of the attach point.
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
    /// Pages this point gave a new entry in the owner table. Not a loss:
    /// entries are never deleted, so what the table holds less than the
    /// sum of these over points is what its LRU pushed out (counted by
    /// userspace as [`Loss::OwnerEvicted`]).
    pub owner_pages: u64,
    /// Watched pages (a waiter's busy page, `WATCHED`) whose slot another
    /// waiter's page took while the first still slept on it: a lost
    /// wakeup on it could not be seen.
    pub watch_replaced: u64,
}

/// Bytes of one owner-table value (`PageOwners` of the eBPF side: four
/// 72-byte owners and two u32 words); the eBPF side asserts it, userspace
/// counts the table's entries with it.
pub const PAGE_OWNERS_VALUE_BYTES: usize = 296;

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
    /// A page's owners forgotten: the full owner table's LRU pushed the
    /// page out for a newer one (counted in userspace, see
    /// [`PointCounters::owner_pages`]).
    OwnerEvicted = 4,
    /// A waiter's watched page pushed out of its slot by another's.
    WatchReplaced = 5,
}

impl Loss {
    /// Every reason, in number order (what userspace turns into `Drops`).
    pub const ALL: [Loss; 6] = [
        Loss::RingFull,
        Loss::MapFull,
        Loss::OwnerOverflow,
        Loss::StackLost,
        Loss::OwnerEvicted,
        Loss::WatchReplaced,
    ];

    /// The reasons the programs count themselves, per point.
    pub const COUNTED_IN_KERNEL: [Loss; 5] = [
        Loss::RingFull,
        Loss::MapFull,
        Loss::OwnerOverflow,
        Loss::StackLost,
        Loss::WatchReplaced,
    ];

    /// The reason of a `Drops` event; `None` for a number this build does not know.
    pub const fn from_u16(v: u16) -> Option<Self> {
        match v {
            0 => Some(Self::RingFull),
            1 => Some(Self::MapFull),
            2 => Some(Self::OwnerOverflow),
            3 => Some(Self::StackLost),
            4 => Some(Self::OwnerEvicted),
            5 => Some(Self::WatchReplaced),
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
            Self::OwnerEvicted => "owner-evicted",
            Self::WatchReplaced => "watch-replaced",
        }
    }

    /// This counter of `c` (0 for a reason counted in userspace).
    pub const fn of(self, c: &PointCounters) -> u64 {
        match self {
            Self::RingFull => c.drops,
            Self::MapFull => c.map_full,
            Self::OwnerOverflow => c.owner_overflow,
            Self::StackLost => c.stack_lost,
            Self::OwnerEvicted => 0,
            Self::WatchReplaced => c.watch_replaced,
        }
    }
}

/// A span of struct page addresses, `[lo, hi)`: the pages of one pfn range.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageSpan {
    /// Address of the `struct page` of the range's first pfn.
    pub lo: u64,
    /// Address of the `struct page` just past the range's last pfn (exclusive).
    pub hi: u64,
}

impl PageSpan {
    /// `page` lies in the span.
    pub const fn covers(&self, page: u64) -> bool {
        page >= self.lo && page < self.hi
    }
}

/// Ranges kept in [`FsdaxRanges`]; a pmem namespace is one. A power of two
/// (indexes are masked with it for the verifier).
pub const MAX_FSDAX_RANGES: usize = 8;
const _: () = assert!(MAX_FSDAX_RANGES.is_power_of_two());

/// Where the struct pages of FS-DAX memory lie: one span per FS-DAX
/// pagemap (its first range), the one entry of the array map
/// `FSDAX_RANGES`. The gup programs decide FS-DAX or not from a page's
/// address alone: a page outside every span is not FS-DAX, one inside is,
/// unless `inexact` says some pagemap did not fit and the pgmap set must
/// decide.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsdaxRanges {
    /// Spans in use: `spans[..n]`; 0 means no FS-DAX pagemap is known yet.
    pub n: u32,
    /// 1: a pagemap was not kept (all slots taken): a page inside a span
    /// is checked against the pgmap set.
    pub inexact: u32,
    /// One span per FS-DAX pagemap, added at its `memremap_pages` return (or
    /// from the state at start) and removed at its `memunmap_pages`.
    pub spans: [PageSpan; MAX_FSDAX_RANGES],
}

impl FsdaxRanges {
    /// The span `page` lies in, if any.
    #[inline(always)]
    pub fn covers(&self, page: u64) -> bool {
        let mut i = 0;
        while i < MAX_FSDAX_RANGES {
            if i as u32 >= self.n {
                return false;
            }
            if self.spans[i].covers(page) {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Adds `span` (once); false when every slot is taken (then `inexact`).
    pub fn add(&mut self, span: PageSpan) -> bool {
        let mut i = 0;
        while i < MAX_FSDAX_RANGES {
            if i as u32 >= self.n {
                break;
            }
            if self.spans[i].lo == span.lo && self.spans[i].hi == span.hi {
                return true;
            }
            i += 1;
        }
        let n = self.n as usize;
        if n >= MAX_FSDAX_RANGES {
            self.inexact = 1;
            return false;
        }
        self.spans[n] = span;
        self.n += 1;
        true
    }

    /// Removes the span that starts at `lo` (a pagemap's death).
    pub fn remove(&mut self, lo: u64) {
        let mut i = 0;
        while i < MAX_FSDAX_RANGES {
            if i as u32 >= self.n {
                return;
            }
            if self.spans[i].lo == lo {
                // n >= 1 here (i < n). The mask keeps the index provably in
                // bounds for the verifier: without it 5.10's refused the
                // program ("R1 min value is outside of the allowed memory
                // range", from n - 1 read as possibly -1).
                let last = (self.n as usize).wrapping_sub(1) & (MAX_FSDAX_RANGES - 1);
                self.spans[i] = self.spans[last];
                self.spans[last] = PageSpan::default();
                self.n -= 1;
                return;
            }
            i += 1;
        }
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
    unsafe impl aya::Pod for super::FsdaxRanges {}
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
    fn fsdax_ranges_cover_exactly_their_spans_and_forget_a_dead_one() {
        let mut r = FsdaxRanges::default();
        assert!(!r.covers(0x1000), "nothing known: nothing covered");
        assert!(r.add(PageSpan {
            lo: 0x2000,
            hi: 0x3000
        }));
        assert!(r.add(PageSpan {
            lo: 0x8000,
            hi: 0x9000
        }));
        assert!(
            r.add(PageSpan {
                lo: 0x2000,
                hi: 0x3000
            }),
            "once"
        );
        assert_eq!(r.n, 2);
        assert!(r.covers(0x2000) && r.covers(0x2fff) && r.covers(0x8800));
        assert!(
            !r.covers(0x3000) && !r.covers(0x5000),
            "not the gap between"
        );
        r.remove(0x2000);
        assert_eq!(r.n, 1);
        assert!(!r.covers(0x2800) && r.covers(0x8800));
        for k in 0..MAX_FSDAX_RANGES as u64 {
            r.add(PageSpan {
                lo: 0x10000 * (k + 1),
                hi: 0x10000 * (k + 1) + 0x100,
            });
        }
        assert_eq!(r.n as usize, MAX_FSDAX_RANGES);
        assert_eq!(
            r.inexact, 1,
            "a pagemap that did not fit makes the set decide"
        );
    }

    #[test]
    fn loss_reasons_round_trip_and_read_their_own_counter() {
        let c = PointCounters {
            drops: 1,
            map_full: 2,
            owner_overflow: 3,
            stack_lost: 4,
            owner_pages: 9,
            watch_replaced: 5,
        };
        for (i, loss) in Loss::COUNTED_IN_KERNEL.iter().enumerate() {
            assert_eq!(loss.of(&c), i as u64 + 1, "{}", loss.name());
        }
        for loss in Loss::ALL {
            assert_eq!(Loss::from_u16(loss as u16), Some(loss));
        }
        assert_eq!(Loss::OwnerEvicted.of(&c), 0, "counted in userspace");
        assert_eq!(Loss::from_u16(6), None);
    }

    #[test]
    fn header_layout_is_stable() {
        // 8 + 2 + 2 + 4 + 4 + 4 + 16: any change is an ABI break that must
        // bump the trace format version as well.
        assert_eq!(HEADER_SIZE, 40);
        assert_eq!(core::mem::align_of::<EventHeader>(), 8);
    }
}
