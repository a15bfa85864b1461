//! The table of attach points, shared by the eBPF programs (which know their
//! own point index) and the loader (which resolves each point on the running
//! kernel and groups them into logical probes).
//!
//! The points themselves are one list,
//! [`for_each_point!`](crate::for_each_point); this module holds what
//! describes a point (its [`Hook`], [`Family`], argument shapes) and the ABI
//! numbers of the APIs a claim, release or wait went through.

mod points;
pub use points::{POINTS, idx};

/// Which part of a function call a point observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// Function entry only (fentry or kprobe).
    Entry,
    /// Function entry and return (fentry+fexit or kprobe+kretprobe); the entry
    /// half stashes the arguments per thread, the return half emits.
    EntryExit,
    /// A tracepoint `category/name`.
    Tracepoint,
    /// A periodic timer program (software perf event).
    Timer,
    /// Function return only, with the arguments read from the fexit context
    /// (no stash: the point is hot and the return needs the arguments). No
    /// kprobe variant: a kretprobe cannot see the arguments.
    Exit,
}

/// The logical probes users see in `daxtrace probes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    /// `memremap_pages` / `devm_memremap_pages` returns and `memunmap_pages`:
    /// `PagemapCreate` and `PagemapDestroy`.
    PagemapLifetime,
    /// `fs_dax_get_by_bdev`, `dax_get_by_host`, `fs_dax_get` and the seed
    /// claims: `Claim` (and `DmMember` taken inside a dm table open).
    Claim,
    /// `fs_put_dax`, `put_dax` and the seed releases: `Release` (and
    /// `DmMember` dropped inside a dm table close).
    Release,
    /// `alloc_dax`, `kill_dax`, `dax_add_host`: `DaxAlloc`, `DaxKill`, `DaxAddHost`.
    DaxDevice,
    /// The ZONE_DEVICE put function of the kernel's generation: per-pagemap
    /// put counts (`PutStats`) and `PageIdle` for watched pages.
    PagePut,
    /// `dax_layout_busy_page(_range)` returns: `BusyPage` (and `WaitBegin`).
    LayoutBusy,
    /// The filesystems' break-layouts calls: `WaitBegin` / `WaitEnd`.
    LayoutWait,
    /// dm dax access fan-out, table dax checks and table device open/close:
    /// `DmAccess`, `DmTableDax`, `DmMember`.
    DeviceMapper,
    /// The `fs_dax` PTE and PMD fault-done tracepoints: `Fault`.
    Fault,
    /// The `memory_failure_event` tracepoint and `dax_holder_notify_failure`:
    /// `MemoryFailure`, `HolderNotifyFailure`.
    MemoryFailure,
    /// The periodic scan of watched pages for waiters asleep on an idle
    /// page: `StuckWait`.
    StuckWait,
    /// get_user_pages / pin_user_pages returns and unpins: `PinOwner`,
    /// `PinRelease`, `RefusedPin`.
    Pin,
    /// `dax_disassociate_entry`: a DAX page leaves its file for good while
    /// still referenced (`PageOrphaned`; `OrphanIdle` when it goes idle).
    /// Before 6.15 eviction and unmount never wait for busy pages.
    Orphan,
    /// `virtio_pmem_flush` (nd_virtio): flush requests of virtio-pmem to the
    /// host, with their latency (`PmemFlush`); `async_pmem_flush` tells
    /// which disk a region is. Only present where a virtio-pmem driver is
    /// loaded.
    Flush,
}

impl Family {
    /// Every family, in the order the probe report lists them.
    pub const ALL: [Family; 14] = [
        Family::PagemapLifetime,
        Family::Claim,
        Family::Release,
        Family::DaxDevice,
        Family::PagePut,
        Family::LayoutBusy,
        Family::LayoutWait,
        Family::DeviceMapper,
        Family::Fault,
        Family::MemoryFailure,
        Family::StuckWait,
        Family::Pin,
        Family::Orphan,
        Family::Flush,
    ];

    /// The stable kebab-case name users see (`daxtrace probes`, JSON).
    pub const fn name(self) -> &'static str {
        match self {
            Family::PagemapLifetime => "pagemap-lifetime",
            Family::Claim => "claim",
            Family::Release => "release",
            Family::DaxDevice => "dax-device",
            Family::PagePut => "page-put-idle",
            Family::LayoutBusy => "layout-busy",
            Family::LayoutWait => "layout-wait",
            Family::DeviceMapper => "device-mapper",
            Family::Fault => "fault",
            Family::MemoryFailure => "memory-failure",
            Family::StuckWait => "stuck-wait",
            Family::Pin => "pin-owner",
            Family::Orphan => "orphaned-page",
            Family::Flush => "pmem-flush",
        }
    }
}

/// How a claim or release was made (the `api` field of claims and releases).
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum ClaimApi {
    /// A number this build does not know (a newer recorder).
    Unknown = 0,
    /// `fs_dax_get_by_bdev`: exclusive with a holder from 6.1, a lookup before.
    FsDaxGetByBdev = 1,
    /// `dax_get_by_host(name)` (<= 5.15, dm).
    DaxGetByHost = 2,
    /// `fs_dax_get(dax_dev, holder, ops)` (7.x).
    FsDaxGet = 3,
    /// The 2018 seed API `fs_dax_claim` / `fs_dax_claim_bdev` / `__fs_dax_release`.
    SeedFsDaxClaim = 4,
    /// The 2018 seed API in dm: `dm_dax_fs_claim` / `dm_dax_fs_release`.
    SeedDmClaim = 5,
    /// `fs_put_dax(dax_dev, holder)` (6.1+).
    FsPutDax = 6,
    /// `put_dax(dax_dev)`.
    PutDax = 7,
}

impl ClaimApi {
    /// The API of an ABI number; [`ClaimApi::Unknown`] for any other number.
    pub const fn from_u64(v: u64) -> Self {
        match v {
            1 => Self::FsDaxGetByBdev,
            2 => Self::DaxGetByHost,
            3 => Self::FsDaxGet,
            4 => Self::SeedFsDaxClaim,
            5 => Self::SeedDmClaim,
            6 => Self::FsPutDax,
            7 => Self::PutDax,
            _ => Self::Unknown,
        }
    }
}

/// Which break-layouts path a wait went through (the `api` field of waits).
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "user",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "kebab-case")
)]
pub enum WaitApi {
    /// A number this build does not know (a newer recorder).
    Unknown = 0,
    /// `ext4_break_layouts(inode)`: ext4 truncate, hole punch, collapse,
    /// insert and zero range.
    Ext4BreakLayouts = 1,
    /// `xfs_break_layouts(inode, iolock, reason)`: xfs truncate and fallocate
    /// modes.
    XfsBreakLayouts = 2,
    /// `dax_break_layout(inode, start, end, cb)`, the fs-generic wait (6.15+),
    /// when no filesystem's own break-layouts call encloses it.
    DaxBreakLayout = 3,
    /// `fuse_dax_break_layouts(inode, start, end)`: virtiofs with DAX.
    FuseDaxBreakLayouts = 4,
    /// `dax_break_layout_final(inode)` (6.15+): eviction (the last `iput`
    /// after unlink, unmount's `evict_inodes`) waits for the file's pages
    /// to go idle, in TASK_UNINTERRUPTIBLE: a pin never released hangs it.
    DaxBreakLayoutFinal = 5,
}

impl WaitApi {
    /// The API of an ABI number; [`WaitApi::Unknown`] for any other number.
    pub const fn from_u64(v: u64) -> Self {
        match v {
            1 => Self::Ext4BreakLayouts,
            2 => Self::XfsBreakLayouts,
            3 => Self::DaxBreakLayout,
            4 => Self::FuseDaxBreakLayouts,
            5 => Self::DaxBreakLayoutFinal,
            _ => Self::Unknown,
        }
    }

    /// The wait sleeps in TASK_UNINTERRUPTIBLE (no signal ends it): what
    /// hangs unmount. The break-layouts waits sleep interruptibly.
    pub const fn uninterruptible(self) -> bool {
        matches!(self, Self::DaxBreakLayoutFinal)
    }
}

/// One attach point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Kernel function name, or `category/name` for tracepoints.
    pub target: &'static str,
    /// The logical probe the point reports under in `daxtrace probes`.
    pub family: Family,
    /// How it is attached: which halves of the call its programs see.
    pub hook: Hook,
    /// Points of one family sharing a `group` are alternatives: the first one
    /// found on the running kernel is attached and the rest are skipped (they
    /// call each other and would double-count). Group 0 means "always attach".
    pub group: u8,
    /// The eBPF program name stem; programs are `fentry_<stem>`, `fexit_<stem>`,
    /// `kprobe_<stem>`, `kretprobe_<stem>`, `tp_<stem>` or `timer_<stem>`.
    pub stem: &'static str,
}

/// Where a get_user_pages entry point keeps its arguments (indexes into the
/// argument list), and what it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GupShape {
    /// Argument index of `start`, the first user address asked for.
    pub start: usize,
    /// Argument index of `nr_pages`, how many pages were asked for.
    pub nr_pages: usize,
    /// Argument index of `gup_flags` (FOLL_* bits).
    pub flags: usize,
    /// Argument index of `pages`, the `struct page **` array the call fills
    /// (its return value says how many entries).
    pub pages: usize,
    /// A `pin_*` function: FOLL_PIN references.
    pub pin: bool,
    /// The pages belong to the `mm` argument (`*_remote`).
    pub remote: bool,
    /// The least number of arguments the function has.
    pub min_args: u8,
}

/// The shape of a gup entry point; `None` for any other point. The
/// signatures are the same from 5.10 to 7.x except for a trailing `vmas`
/// argument that `_remote` and the plain calls lost in 6.5 (the return value
/// sits after the last argument, which the loader reads from BTF).
pub const fn gup_shape(point: u16) -> Option<GupShape> {
    const fn shape(
        start: usize,
        nr_pages: usize,
        flags: usize,
        pages: usize,
        pin: bool,
        remote: bool,
        min_args: u8,
    ) -> Option<GupShape> {
        Some(GupShape {
            start,
            nr_pages,
            flags,
            pages,
            pin,
            remote,
            min_args,
        })
    }
    match point {
        // (start, nr_pages, gup_flags, pages)
        idx::GET_USER_PAGES_FAST | idx::GET_USER_PAGES_FAST_ONLY => {
            shape(0, 1, 2, 3, false, false, 4)
        }
        idx::PIN_USER_PAGES_FAST | idx::PIN_USER_PAGES_FAST_ONLY => {
            shape(0, 1, 2, 3, true, false, 4)
        }
        // (mm, start, nr_pages, gup_flags, pages, [vmas,] locked)
        idx::GET_USER_PAGES_REMOTE => shape(1, 2, 3, 4, false, true, 6),
        idx::PIN_USER_PAGES_REMOTE => shape(1, 2, 3, 4, true, true, 6),
        // (start, nr_pages, pages, gup_flags)
        idx::GET_USER_PAGES_UNLOCKED => shape(0, 1, 3, 2, false, false, 4),
        idx::PIN_USER_PAGES_UNLOCKED => shape(0, 1, 3, 2, true, false, 4),
        // (start, nr_pages, gup_flags, pages[, vmas])
        idx::GET_USER_PAGES => shape(0, 1, 2, 3, false, false, 4),
        idx::PIN_USER_PAGES => shape(0, 1, 2, 3, true, false, 4),
        // (mm, start, nr_pages, pages, vmas | locked, gup_flags), 5.10 to
        // 6.14: the slow path under every entry point, watched for refused
        // long-term pins only (its mm is the pages' owner, local or remote)
        idx::GUP_LONGTERM_LOCKED => shape(1, 2, 5, 3, false, true, 6),
        _ => None,
    }
}
