//! The table of attach points, shared by the eBPF programs (which know their
//! own point index) and the loader (which resolves each point on the running
//! kernel and groups them into logical probes).
//!
//! The index of a point in [`POINTS`] is its identity in [`crate::EventHeader::point`]
//! and in the per-point maps: append only, never reorder.

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
    PagemapLifetime,
    Claim,
    Release,
    DaxDevice,
    PagePut,
    LayoutBusy,
    LayoutWait,
    DeviceMapper,
    Fault,
    MemoryFailure,
    StuckWait,
    Pin,
}

impl Family {
    pub const ALL: [Family; 12] = [
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
    ];

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
    Ext4BreakLayouts = 1,
    XfsBreakLayouts = 2,
    DaxBreakLayout = 3,
    FuseDaxBreakLayouts = 4,
}

impl WaitApi {
    /// The API of an ABI number; [`WaitApi::Unknown`] for any other number.
    pub const fn from_u64(v: u64) -> Self {
        match v {
            1 => Self::Ext4BreakLayouts,
            2 => Self::XfsBreakLayouts,
            3 => Self::DaxBreakLayout,
            4 => Self::FuseDaxBreakLayouts,
            _ => Self::Unknown,
        }
    }
}

/// One attach point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Point {
    /// Kernel function name, or `category/name` for tracepoints.
    pub target: &'static str,
    pub family: Family,
    pub hook: Hook,
    /// Points of one family sharing a `group` are alternatives: the first one
    /// found on the running kernel is attached and the rest are skipped (they
    /// call each other and would double-count). Group 0 means "always attach".
    pub group: u8,
    /// The eBPF program name stem; programs are `fentry_<stem>`, `fexit_<stem>`,
    /// `kprobe_<stem>`, `kretprobe_<stem>`, `tp_<stem>` or `timer_<stem>`.
    pub stem: &'static str,
}

const fn p(
    target: &'static str,
    family: Family,
    hook: Hook,
    group: u8,
    stem: &'static str,
) -> Point {
    Point {
        target,
        family,
        hook,
        group,
        stem,
    }
}

use Family as F;
use Hook as H;

/// Every attach point daxtrace knows about, across kernel generations.
pub const POINTS: [Point; 51] = [
    // 0..: pagemap lifetime (memremap_pages is called by devm_memremap_pages from 5.4)
    p(
        "memremap_pages",
        F::PagemapLifetime,
        H::EntryExit,
        1,
        "memremap_pages",
    ),
    p(
        "devm_memremap_pages",
        F::PagemapLifetime,
        H::EntryExit,
        1,
        "devm_memremap_pages",
    ),
    p(
        "memunmap_pages",
        F::PagemapLifetime,
        H::Entry,
        0,
        "memunmap_pages",
    ),
    // 3..: claims (nested calls are collapsed in the programs)
    p(
        "fs_dax_get_by_bdev",
        F::Claim,
        H::EntryExit,
        0,
        "fs_dax_get_by_bdev",
    ),
    p(
        "dax_get_by_host",
        F::Claim,
        H::EntryExit,
        0,
        "dax_get_by_host",
    ),
    p("fs_dax_get", F::Claim, H::EntryExit, 0, "fs_dax_get"),
    p("fs_dax_claim", F::Claim, H::EntryExit, 0, "fs_dax_claim"),
    p(
        "fs_dax_claim_bdev",
        F::Claim,
        H::EntryExit,
        0,
        "fs_dax_claim_bdev",
    ),
    p(
        "dm_dax_fs_claim",
        F::Claim,
        H::EntryExit,
        0,
        "dm_dax_fs_claim",
    ),
    // 9..: releases
    p("fs_put_dax", F::Release, H::EntryExit, 0, "fs_put_dax"),
    p("put_dax", F::Release, H::EntryExit, 0, "put_dax"),
    p(
        "__fs_dax_release",
        F::Release,
        H::EntryExit,
        0,
        "__fs_dax_release",
    ),
    p(
        "fs_dax_release",
        F::Release,
        H::EntryExit,
        0,
        "fs_dax_release",
    ),
    p(
        "dm_dax_fs_release",
        F::Release,
        H::EntryExit,
        0,
        "dm_dax_fs_release",
    ),
    // 14..: dax_device lifetime
    p("alloc_dax", F::DaxDevice, H::EntryExit, 0, "alloc_dax"),
    p("kill_dax", F::DaxDevice, H::Entry, 0, "kill_dax"),
    p("dax_add_host", F::DaxDevice, H::Entry, 0, "dax_add_host"),
    // 17..: ZONE_DEVICE puts, one generation each
    p(
        "free_zone_device_folio",
        F::PagePut,
        H::Entry,
        2,
        "free_zone_device_folio",
    ),
    p(
        "__put_devmap_managed_folio_refs",
        F::PagePut,
        H::Entry,
        2,
        "put_devmap_folio_refs",
    ),
    p(
        "__put_devmap_managed_page_refs",
        F::PagePut,
        H::Entry,
        2,
        "put_devmap_page_refs",
    ),
    p(
        "put_devmap_managed_page",
        F::PagePut,
        H::Entry,
        2,
        "put_devmap_managed_page",
    ),
    p(
        "__put_devmap_managed_page",
        F::PagePut,
        H::Entry,
        2,
        "put_devmap_managed_page_old",
    ),
    // 22..: layout busy
    p(
        "dax_layout_busy_page_range",
        F::LayoutBusy,
        H::EntryExit,
        3,
        "dax_layout_busy_page_range",
    ),
    p(
        "dax_layout_busy_page",
        F::LayoutBusy,
        H::EntryExit,
        3,
        "dax_layout_busy_page",
    ),
    // 24..: waits (outermost span per thread is reported)
    p(
        "ext4_break_layouts",
        F::LayoutWait,
        H::EntryExit,
        0,
        "ext4_break_layouts",
    ),
    p(
        "xfs_break_layouts",
        F::LayoutWait,
        H::EntryExit,
        0,
        "xfs_break_layouts",
    ),
    p(
        "dax_break_layout",
        F::LayoutWait,
        H::EntryExit,
        0,
        "dax_break_layout",
    ),
    p(
        "fuse_dax_break_layouts",
        F::LayoutWait,
        H::EntryExit,
        0,
        "fuse_dax_break_layouts",
    ),
    // 28..: device mapper
    p(
        "dm_dax_direct_access",
        F::DeviceMapper,
        H::EntryExit,
        0,
        "dm_dax_direct_access",
    ),
    p(
        "dax_direct_access",
        F::DeviceMapper,
        H::Entry,
        0,
        "dax_direct_access",
    ),
    p(
        "dm_table_supports_dax",
        F::DeviceMapper,
        H::EntryExit,
        0,
        "dm_table_supports_dax",
    ),
    p(
        "dm_get_table_device",
        F::DeviceMapper,
        H::EntryExit,
        0,
        "dm_get_table_device",
    ),
    p(
        "dm_put_table_device",
        F::DeviceMapper,
        H::EntryExit,
        0,
        "dm_put_table_device",
    ),
    // 33..: faults and memory failure
    p(
        "fs_dax/dax_pte_fault_done",
        F::Fault,
        H::Tracepoint,
        0,
        "dax_pte_fault_done",
    ),
    p(
        "fs_dax/dax_pmd_fault_done",
        F::Fault,
        H::Tracepoint,
        0,
        "dax_pmd_fault_done",
    ),
    p(
        "ras/memory_failure_event",
        F::MemoryFailure,
        H::Tracepoint,
        4,
        "memory_failure_event",
    ),
    p(
        "memory_failure/memory_failure_event",
        F::MemoryFailure,
        H::Tracepoint,
        4,
        "memory_failure_event",
    ),
    p(
        "dax_holder_notify_failure",
        F::MemoryFailure,
        H::Entry,
        0,
        "dax_holder_notify_failure",
    ),
    // 38: the stuck-wait scanner
    p("cpu-clock", F::StuckWait, H::Timer, 0, "stuck_scan"),
    // 39..: get_user_pages / pin_user_pages entry points (owners of FS-DAX
    // pages, refused long-term pins); each returns the pages it referenced.
    p(
        "get_user_pages_fast",
        F::Pin,
        H::Exit,
        0,
        "get_user_pages_fast",
    ),
    p(
        "pin_user_pages_fast",
        F::Pin,
        H::Exit,
        0,
        "pin_user_pages_fast",
    ),
    p(
        "get_user_pages_fast_only",
        F::Pin,
        H::Exit,
        0,
        "get_user_pages_fast_only",
    ),
    p(
        "pin_user_pages_fast_only",
        F::Pin,
        H::Exit,
        0,
        "pin_user_pages_fast_only",
    ),
    p(
        "get_user_pages_remote",
        F::Pin,
        H::Exit,
        0,
        "get_user_pages_remote",
    ),
    p(
        "pin_user_pages_remote",
        F::Pin,
        H::Exit,
        0,
        "pin_user_pages_remote",
    ),
    p(
        "get_user_pages_unlocked",
        F::Pin,
        H::Exit,
        0,
        "get_user_pages_unlocked",
    ),
    p(
        "pin_user_pages_unlocked",
        F::Pin,
        H::Exit,
        0,
        "pin_user_pages_unlocked",
    ),
    p("get_user_pages", F::Pin, H::Exit, 0, "get_user_pages"),
    p("pin_user_pages", F::Pin, H::Exit, 0, "pin_user_pages"),
    // 49..: unpins (6.15+, where puts of FS-DAX pages are not hooked one by one)
    p("unpin_user_page", F::Pin, H::Entry, 0, "unpin_user_page"),
    p("unpin_user_pages", F::Pin, H::Entry, 0, "unpin_user_pages"),
];

/// Where a get_user_pages entry point keeps its arguments (indexes into the
/// argument list), and what it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GupShape {
    pub start: usize,
    pub nr_pages: usize,
    pub flags: usize,
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
        _ => None,
    }
}

/// Index constants for the programs, checked against [`POINTS`] by a test.
pub mod idx {
    pub const MEMREMAP_PAGES: u16 = 0;
    pub const DEVM_MEMREMAP_PAGES: u16 = 1;
    pub const MEMUNMAP_PAGES: u16 = 2;
    pub const FS_DAX_GET_BY_BDEV: u16 = 3;
    pub const DAX_GET_BY_HOST: u16 = 4;
    pub const FS_DAX_GET: u16 = 5;
    pub const FS_DAX_CLAIM: u16 = 6;
    pub const FS_DAX_CLAIM_BDEV: u16 = 7;
    pub const DM_DAX_FS_CLAIM: u16 = 8;
    pub const FS_PUT_DAX: u16 = 9;
    pub const PUT_DAX: u16 = 10;
    pub const FS_DAX_RELEASE_INNER: u16 = 11;
    pub const FS_DAX_RELEASE: u16 = 12;
    pub const DM_DAX_FS_RELEASE: u16 = 13;
    pub const ALLOC_DAX: u16 = 14;
    pub const KILL_DAX: u16 = 15;
    pub const DAX_ADD_HOST: u16 = 16;
    pub const FREE_ZONE_DEVICE_FOLIO: u16 = 17;
    pub const PUT_DEVMAP_FOLIO_REFS: u16 = 18;
    pub const PUT_DEVMAP_PAGE_REFS: u16 = 19;
    pub const PUT_DEVMAP_MANAGED_PAGE: u16 = 20;
    pub const PUT_DEVMAP_MANAGED_PAGE_OLD: u16 = 21;
    pub const DAX_LAYOUT_BUSY_PAGE_RANGE: u16 = 22;
    pub const DAX_LAYOUT_BUSY_PAGE: u16 = 23;
    pub const EXT4_BREAK_LAYOUTS: u16 = 24;
    pub const XFS_BREAK_LAYOUTS: u16 = 25;
    pub const DAX_BREAK_LAYOUT: u16 = 26;
    pub const FUSE_DAX_BREAK_LAYOUTS: u16 = 27;
    pub const DM_DAX_DIRECT_ACCESS: u16 = 28;
    pub const DAX_DIRECT_ACCESS: u16 = 29;
    pub const DM_TABLE_SUPPORTS_DAX: u16 = 30;
    pub const DM_GET_TABLE_DEVICE: u16 = 31;
    pub const DM_PUT_TABLE_DEVICE: u16 = 32;
    pub const PTE_FAULT_DONE: u16 = 33;
    pub const PMD_FAULT_DONE: u16 = 34;
    pub const RAS_MEMORY_FAILURE: u16 = 35;
    pub const MF_MEMORY_FAILURE: u16 = 36;
    pub const DAX_HOLDER_NOTIFY_FAILURE: u16 = 37;
    pub const STUCK_SCAN: u16 = 38;
    pub const GET_USER_PAGES_FAST: u16 = 39;
    pub const PIN_USER_PAGES_FAST: u16 = 40;
    pub const GET_USER_PAGES_FAST_ONLY: u16 = 41;
    pub const PIN_USER_PAGES_FAST_ONLY: u16 = 42;
    pub const GET_USER_PAGES_REMOTE: u16 = 43;
    pub const PIN_USER_PAGES_REMOTE: u16 = 44;
    pub const GET_USER_PAGES_UNLOCKED: u16 = 45;
    pub const PIN_USER_PAGES_UNLOCKED: u16 = 46;
    pub const GET_USER_PAGES: u16 = 47;
    pub const PIN_USER_PAGES: u16 = 48;
    pub const UNPIN_USER_PAGE: u16 = 49;
    pub const UNPIN_USER_PAGES: u16 = 50;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_constants_match_the_table() {
        let pairs: &[(u16, &str)] = &[
            (idx::MEMREMAP_PAGES, "memremap_pages"),
            (idx::MEMUNMAP_PAGES, "memunmap_pages"),
            (idx::FS_DAX_GET_BY_BDEV, "fs_dax_get_by_bdev"),
            (idx::DM_DAX_FS_CLAIM, "dm_dax_fs_claim"),
            (idx::FS_PUT_DAX, "fs_put_dax"),
            (idx::DM_DAX_FS_RELEASE, "dm_dax_fs_release"),
            (idx::DAX_ADD_HOST, "dax_add_host"),
            (idx::FREE_ZONE_DEVICE_FOLIO, "free_zone_device_folio"),
            (
                idx::PUT_DEVMAP_MANAGED_PAGE_OLD,
                "__put_devmap_managed_page",
            ),
            (idx::DAX_LAYOUT_BUSY_PAGE, "dax_layout_busy_page"),
            (idx::FUSE_DAX_BREAK_LAYOUTS, "fuse_dax_break_layouts"),
            (idx::DM_PUT_TABLE_DEVICE, "dm_put_table_device"),
            (idx::PMD_FAULT_DONE, "fs_dax/dax_pmd_fault_done"),
            (idx::DAX_HOLDER_NOTIFY_FAILURE, "dax_holder_notify_failure"),
            (idx::STUCK_SCAN, "cpu-clock"),
            (idx::GET_USER_PAGES_FAST, "get_user_pages_fast"),
            (idx::PIN_USER_PAGES_REMOTE, "pin_user_pages_remote"),
            (idx::PIN_USER_PAGES, "pin_user_pages"),
            (idx::UNPIN_USER_PAGES, "unpin_user_pages"),
        ];
        for (i, name) in pairs {
            assert_eq!(POINTS[*i as usize].target, *name, "index {i}");
        }
        assert!(POINTS.len() <= crate::config::MAX_POINTS);
    }

    #[test]
    fn stems_are_unique_per_hook_kind() {
        for (i, a) in POINTS.iter().enumerate() {
            for b in &POINTS[i + 1..] {
                if a.stem == b.stem {
                    // Only the two spellings of memory_failure_event share a program.
                    assert_eq!(a.hook, Hook::Tracepoint, "{}", a.stem);
                }
            }
        }
    }
}
