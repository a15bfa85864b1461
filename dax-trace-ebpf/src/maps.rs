//! Maps shared by every program, and the read-only load-time [`CONFIG`].
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap, RingBuf, StackTrace},
};
use dax_trace_common::{
    Config, FaultKey, FsdaxRanges, MAX_FAULT_KEYS, PgmapPuts, PointCounters, config::MAX_POINTS,
};

/// BTF offsets and per-point argument counts, set by the loader before load.
/// Lives in .rodata: the verifier sees its values as constants, which lets
/// fentry programs read exactly as many arguments as the function has.
#[unsafe(no_mangle)]
pub static CONFIG: Config = Config::zeroed();

/// Events to userspace. 4 MiB: about 30k events of burst.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(4 * 1024 * 1024, 0);

/// Hits, ring buffer drops and read errors per attach point.
#[map]
pub static COUNTERS: PerCpuArray<PointCounters> =
    PerCpuArray::with_max_entries(MAX_POINTS as u32, 0);

/// Page puts and idle transitions per dev_pagemap (hot path: never streamed).
#[map]
pub static PGMAP_PUTS: PerCpuHashMap<u64, PgmapPuts> = PerCpuHashMap::with_max_entries(256, 0);

/// DAX faults per (dev, size, result), unless `CONFIG.fault_events` asks
/// for a record per fault (hot path: read by userspace once a second).
#[map]
pub static FAULT_COUNTS: PerCpuHashMap<FaultKey, u64> =
    PerCpuHashMap::with_max_entries(MAX_FAULT_KEYS, 0);

/// Arguments stashed at function entry for the return half, keyed by
/// `tid << 8 | point`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Stash {
    pub args: [u64; 6],
    pub ts_ns: u64,
}

#[map]
pub static STASH: HashMap<u64, Stash> = HashMap::with_max_entries(16_384, 0);

/// Nesting depth of claim/release calls per thread: only the outermost call
/// of a nest (fs_put_dax -> put_dax, fs_dax_get_by_bdev -> dax_get_by_host)
/// produces an event.
#[map]
pub static CLAIM_DEPTH: HashMap<u32, u32> = HashMap::with_max_entries(4_096, 0);

/// An open layout wait (break_layouts span) per thread.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct WaitSpan {
    pub inode: u64,
    pub ino: u64,
    pub start_ns: u64,
    pub last_pfn: u64,
    pub busy_hits: u64,
    pub dev: u32,
    pub depth: u32,
    pub api: u32,
    /// 1 once WAIT_BEGIN was emitted (at the first busy page of the span).
    pub begun: u32,
}

#[map]
pub static WAITS: HashMap<u32, WaitSpan> = HashMap::with_max_entries(4_096, 0);

/// A page that a waiter sleeps on. Slot index: `(page >> 6) % MAX_WATCHED_PAGES`
/// (struct page is 64 bytes); a collision replaces the older page.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Watch {
    pub page: u64,
    pub pfn: u64,
    pub pgmap: u64,
    pub since_ns: u64,
    /// When the scanner first saw the page idle while the waiter still slept.
    pub idle_since_ns: u64,
    pub ino: u64,
    pub dev: u32,
    pub tid: u32,
    pub reported: u32,
    pub _pad: u32,
}

#[map]
pub static WATCHED: Array<Watch> = Array::with_max_entries(dax_trace_common::MAX_WATCHED_PAGES, 0);

/// A page its file let go while still busy, until it goes idle.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Orphan {
    /// The `struct page *`; 0: a free slot.
    pub page: u64,
    pub pfn: u64,
    /// When its entry was dropped.
    pub orphaned_ns: u64,
    pub ino: u64,
    pub dev: u32,
    /// The thread that dropped the entry.
    pub tid: u32,
}

/// Orphaned pages watched until idle. Slot index: `(page >> 6) %
/// MAX_ORPHANED_PAGES`; a slot held by another page counts a loss.
#[map]
pub static ORPHANS: Array<Orphan> =
    Array::with_max_entries(dax_trace_common::MAX_ORPHANED_PAGES, 0);

/// Device-mapper context of a thread inside `dm_dax_direct_access`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmCtx {
    pub dm_dax_dev: u64,
    pub pgoff: u64,
    pub nr_pages: u64,
}

#[map]
pub static DM_CTX: HashMap<u32, DmCtx> = HashMap::with_max_entries(1_024, 0);

/// Threads inside dm_get_table_device (1) or dm_put_table_device (2).
#[map]
pub static DM_TABLE_CTX: HashMap<u32, u32> = HashMap::with_max_entries(1_024, 0);

/// dm -> member pairs already reported (one DM_ACCESS per pair). Sized at
/// load from the CPUs (userspace `sizing`).
#[map]
pub static DM_PAIRS: LruHashMap<[u64; 2], u64> = LruHashMap::with_max_entries(1_024, 0);

/// The `dev_pagemap`s of type FS-DAX: filled by `pagemap_create` and by
/// userspace from the state at start. A page belongs to FS-DAX when its
/// pgmap word is a key here (a normal page's word is an lru pointer and
/// never matches), which is what keeps pins of ordinary memory cheap.
#[map]
pub static FSDAX_PGMAPS: HashMap<u64, u32> = HashMap::with_max_entries(256, 0);

/// `vmemmap_base`'s value once read (0: not yet), see `read::vmemmap`.
#[map]
pub static VMEMMAP_SEEN: Array<u64> = Array::with_max_entries(1, 0);

/// Where the struct pages of every FS-DAX pagemap known lie (see
/// [`FsdaxRanges`]); filled like `FSDAX_PGMAPS`. The gup and unpin
/// programs decide FS-DAX or not from a page's address with it, before
/// they read anything of the page.
#[map]
pub static FSDAX_RANGES: Array<FsdaxRanges> = Array::with_max_entries(1, 0);

/// Owners kept per page (more are counted in `PageOwners::overflow`).
pub const OWNER_SLOTS: usize = 4;

/// A task holding references on a page (taken at a gup entry point).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Owner {
    pub since_ns: u64,
    /// 0: a free slot.
    pub tid: u32,
    pub pid: u32,
    pub comm: [u8; 16],
    pub refs: u32,
    /// Trace stack id (kernel stack id + 1; 0 none).
    pub stack: u32,
    /// The gup entry point.
    pub point: u16,
    pub pin: u8,
    /// A `PinOwner` was sent for it (so its end is sent too).
    pub reported: u8,
    pub remote: u8,
    pub _pad: [u8; 3],
    /// The pages-array slot and time of the last reference counted: a
    /// nested gup call (5.10: the fast calls and `pin_user_pages_unlocked`
    /// fall back on `get_user_pages_unlocked`, both hooked) hands back the
    /// same slot at once, which must not count twice.
    pub last_slot: u64,
    pub last_ns: u64,
    /// When `stack` was taken.
    pub stack_ns: u64,
}

/// The owners of one FS-DAX page, keyed by its `struct page` address.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PageOwners {
    pub owners: [Owner; OWNER_SLOTS],
    pub overflow: u32,
    pub _pad: u32,
}

const _: () =
    assert!(core::mem::size_of::<PageOwners>() == dax_trace_common::PAGE_OWNERS_VALUE_BYTES);

/// A page with no owners: the value a page's first pin inserts (the kernel
/// zeroes an array map's entries; nothing writes this one).
#[map]
pub static NO_OWNERS: Array<PageOwners> = Array::with_max_entries(1, 0);

/// Bounded: the least recently used page loses its owners first. Sized
/// at load from `--max-pinned-pages` and the CPUs (userspace `sizing`);
/// what it evicts is counted by userspace from `owner_pages`.
#[map]
pub static PAGE_OWNERS: LruHashMap<u64, PageOwners> = LruHashMap::with_max_entries(8_192, 0);

/// The last stack a thread pinned through an entry point, keyed by
/// `tid << 16 | point` (see `pins::cached_stack`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct StackSeen {
    pub stack: u32,
    pub _pad: u32,
    pub ts_ns: u64,
}

/// Sized at load from the CPUs (userspace `sizing`).
#[map]
pub static STACK_CACHE: LruHashMap<u64, StackSeen> = LruHashMap::with_max_entries(1_024, 0);

/// Kernel stacks of the kinds that carry one (ids are stable: no reuse flag,
/// a hash collision loses the newer stack, which is counted).
#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(2_048, 0);

/// The disk (`dev_t`) of each virtio-pmem region (`struct nd_region *`),
/// from the flush bios `async_pmem_flush` sees: the host request itself
/// carries only the region.
#[map]
pub static REGION_DISKS: HashMap<u64, u32> = HashMap::with_max_entries(64, 0);

/// Where a refused pin's file path is built (see `pins::naming`).
#[map]
pub static PATH_SCRATCH: PerCpuArray<crate::pins::naming::PathScratch> =
    PerCpuArray::with_max_entries(1, 0);
