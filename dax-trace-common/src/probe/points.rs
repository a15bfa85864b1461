//! The one list of attach points. [`for_each_point!`](crate::for_each_point)
//! holds every point once; [`POINTS`], the index constants of [`idx`] and
//! the eBPF programs (`dax-trace-ebpf`'s `main.rs`) are all generated from
//! it, so a point cannot be declared in one place and forgotten in another.
//!
//! The index of a point is its identity in [`crate::EventHeader::point`]
//! and in the per-point maps: append only, never reorder or reuse.
use super::{Family, Hook, Point};

/// Calls `$m! { CONST = index, "target", Family, Hook, group, stem; ... }`
/// with every attach point, in index order. A trailing `, shared` marks a
/// point whose program is the one an earlier point with the same stem
/// declares (two spellings of one tracepoint): no program of its own.
///
/// - `target`: kernel function name, or `category/name` for tracepoints;
/// - `group`: points of one family sharing a non-zero group are
///   alternatives, the first found on the running kernel is attached;
/// - `stem`: the program name stem, see [`Point::stem`].
#[macro_export]
macro_rules! for_each_point {
    ($m:ident) => {
        $m! {
            // 0..: pagemap lifetime (memremap_pages is called by devm_memremap_pages from 5.4)
            MEMREMAP_PAGES = 0, "memremap_pages", PagemapLifetime, EntryExit, 1, memremap_pages;
            DEVM_MEMREMAP_PAGES = 1, "devm_memremap_pages", PagemapLifetime, EntryExit, 1, devm_memremap_pages;
            MEMUNMAP_PAGES = 2, "memunmap_pages", PagemapLifetime, Entry, 0, memunmap_pages;
            // 3..: claims (nested calls are collapsed in the programs)
            FS_DAX_GET_BY_BDEV = 3, "fs_dax_get_by_bdev", Claim, EntryExit, 0, fs_dax_get_by_bdev;
            DAX_GET_BY_HOST = 4, "dax_get_by_host", Claim, EntryExit, 0, dax_get_by_host;
            FS_DAX_GET = 5, "fs_dax_get", Claim, EntryExit, 0, fs_dax_get;
            FS_DAX_CLAIM = 6, "fs_dax_claim", Claim, EntryExit, 0, fs_dax_claim;
            FS_DAX_CLAIM_BDEV = 7, "fs_dax_claim_bdev", Claim, EntryExit, 0, fs_dax_claim_bdev;
            DM_DAX_FS_CLAIM = 8, "dm_dax_fs_claim", Claim, EntryExit, 0, dm_dax_fs_claim;
            // 9..: releases
            FS_PUT_DAX = 9, "fs_put_dax", Release, EntryExit, 0, fs_put_dax;
            PUT_DAX = 10, "put_dax", Release, EntryExit, 0, put_dax;
            FS_DAX_RELEASE_INNER = 11, "__fs_dax_release", Release, EntryExit, 0, __fs_dax_release;
            FS_DAX_RELEASE = 12, "fs_dax_release", Release, EntryExit, 0, fs_dax_release;
            DM_DAX_FS_RELEASE = 13, "dm_dax_fs_release", Release, EntryExit, 0, dm_dax_fs_release;
            // 14..: dax_device lifetime
            ALLOC_DAX = 14, "alloc_dax", DaxDevice, EntryExit, 0, alloc_dax;
            KILL_DAX = 15, "kill_dax", DaxDevice, Entry, 0, kill_dax;
            DAX_ADD_HOST = 16, "dax_add_host", DaxDevice, Entry, 0, dax_add_host;
            // 17..: ZONE_DEVICE puts, one generation each
            FREE_ZONE_DEVICE_FOLIO = 17, "free_zone_device_folio", PagePut, Entry, 2, free_zone_device_folio;
            PUT_DEVMAP_FOLIO_REFS = 18, "__put_devmap_managed_folio_refs", PagePut, Entry, 2, put_devmap_folio_refs;
            PUT_DEVMAP_PAGE_REFS = 19, "__put_devmap_managed_page_refs", PagePut, Entry, 2, put_devmap_page_refs;
            PUT_DEVMAP_MANAGED_PAGE = 20, "put_devmap_managed_page", PagePut, Entry, 2, put_devmap_managed_page;
            PUT_DEVMAP_MANAGED_PAGE_OLD = 21, "__put_devmap_managed_page", PagePut, Entry, 2, put_devmap_managed_page_old;
            // 22..: layout busy
            DAX_LAYOUT_BUSY_PAGE_RANGE = 22, "dax_layout_busy_page_range", LayoutBusy, EntryExit, 3, dax_layout_busy_page_range;
            DAX_LAYOUT_BUSY_PAGE = 23, "dax_layout_busy_page", LayoutBusy, EntryExit, 3, dax_layout_busy_page;
            // 24..: waits (outermost span per thread is reported)
            EXT4_BREAK_LAYOUTS = 24, "ext4_break_layouts", LayoutWait, EntryExit, 0, ext4_break_layouts;
            XFS_BREAK_LAYOUTS = 25, "xfs_break_layouts", LayoutWait, EntryExit, 0, xfs_break_layouts;
            DAX_BREAK_LAYOUT = 26, "dax_break_layout", LayoutWait, EntryExit, 0, dax_break_layout;
            FUSE_DAX_BREAK_LAYOUTS = 27, "fuse_dax_break_layouts", LayoutWait, EntryExit, 0, fuse_dax_break_layouts;
            // 28..: device mapper
            DM_DAX_DIRECT_ACCESS = 28, "dm_dax_direct_access", DeviceMapper, EntryExit, 0, dm_dax_direct_access;
            DAX_DIRECT_ACCESS = 29, "dax_direct_access", DeviceMapper, Entry, 0, dax_direct_access;
            DM_TABLE_SUPPORTS_DAX = 30, "dm_table_supports_dax", DeviceMapper, EntryExit, 0, dm_table_supports_dax;
            DM_GET_TABLE_DEVICE = 31, "dm_get_table_device", DeviceMapper, EntryExit, 0, dm_get_table_device;
            DM_PUT_TABLE_DEVICE = 32, "dm_put_table_device", DeviceMapper, EntryExit, 0, dm_put_table_device;
            // 33..: faults and memory failure
            PTE_FAULT_DONE = 33, "fs_dax/dax_pte_fault_done", Fault, Tracepoint, 0, dax_pte_fault_done;
            PMD_FAULT_DONE = 34, "fs_dax/dax_pmd_fault_done", Fault, Tracepoint, 0, dax_pmd_fault_done;
            RAS_MEMORY_FAILURE = 35, "ras/memory_failure_event", MemoryFailure, Tracepoint, 4, memory_failure_event;
            MF_MEMORY_FAILURE = 36, "memory_failure/memory_failure_event", MemoryFailure, Tracepoint, 4, memory_failure_event, shared;
            DAX_HOLDER_NOTIFY_FAILURE = 37, "dax_holder_notify_failure", MemoryFailure, Entry, 0, dax_holder_notify_failure;
            // 38: the stuck-wait scanner
            STUCK_SCAN = 38, "cpu-clock", StuckWait, Timer, 0, stuck_scan;
            // 39..: get_user_pages / pin_user_pages entry points (owners of FS-DAX
            // pages, refused long-term pins); each returns the pages it referenced.
            GET_USER_PAGES_FAST = 39, "get_user_pages_fast", Pin, Exit, 0, get_user_pages_fast;
            PIN_USER_PAGES_FAST = 40, "pin_user_pages_fast", Pin, Exit, 0, pin_user_pages_fast;
            GET_USER_PAGES_FAST_ONLY = 41, "get_user_pages_fast_only", Pin, Exit, 0, get_user_pages_fast_only;
            PIN_USER_PAGES_FAST_ONLY = 42, "pin_user_pages_fast_only", Pin, Exit, 0, pin_user_pages_fast_only;
            GET_USER_PAGES_REMOTE = 43, "get_user_pages_remote", Pin, Exit, 0, get_user_pages_remote;
            PIN_USER_PAGES_REMOTE = 44, "pin_user_pages_remote", Pin, Exit, 0, pin_user_pages_remote;
            GET_USER_PAGES_UNLOCKED = 45, "get_user_pages_unlocked", Pin, Exit, 0, get_user_pages_unlocked;
            PIN_USER_PAGES_UNLOCKED = 46, "pin_user_pages_unlocked", Pin, Exit, 0, pin_user_pages_unlocked;
            GET_USER_PAGES = 47, "get_user_pages", Pin, Exit, 0, get_user_pages;
            PIN_USER_PAGES = 48, "pin_user_pages", Pin, Exit, 0, pin_user_pages;
            // 49..: unpins (6.15+, where puts of FS-DAX pages are not hooked one by one)
            UNPIN_USER_PAGE = 49, "unpin_user_page", Pin, Entry, 0, unpin_user_page;
            UNPIN_USER_PAGES = 50, "unpin_user_pages", Pin, Entry, 0, unpin_user_pages;
            // 51: a DAX entry leaves its file (truncate, punch, evict, unmount);
            // before 6.15 nothing waits for its pages first
            DAX_DISASSOCIATE_ENTRY = 51, "dax_disassociate_entry", Orphan, Entry, 0, dax_disassociate_entry;
            // 52: the evict and unmount wait for idle pages (6.15+, uninterruptible)
            DAX_BREAK_LAYOUT_FINAL = 52, "dax_break_layout_final", LayoutWait, EntryExit, 0, dax_break_layout_final;
            // 53..: virtio-pmem flushes: the region's flush callback (which
            // names the disk through its bio) and the request to the host,
            // waited for (by the caller, or a flush worker from 6.12/7.x)
            ASYNC_PMEM_FLUSH = 53, "async_pmem_flush", Flush, Entry, 0, async_pmem_flush;
            VIRTIO_PMEM_FLUSH = 54, "virtio_pmem_flush", Flush, EntryExit, 0, virtio_pmem_flush;
            // 55..: pins without a gup hook (before 6.15): every devmap page gup
            // takes is looked up here first, ordinary memory never is; and the
            // slow path every long-term pin goes through, for refusals
            GET_DEV_PAGEMAP = 55, "get_dev_pagemap", Pin, Entry, 0, get_dev_pagemap;
            GUP_LONGTERM_LOCKED = 56, "__gup_longterm_locked", Pin, Exit, 0, gup_longterm_locked;
        }
    };
}

macro_rules! point_table {
    ($($konst:ident = $index:literal, $target:literal, $family:ident, $hook:ident, $group:literal, $stem:ident $(, $shared:ident)?;)*) => {
        /// Every attach point daxtrace knows about, across kernel generations.
        pub const POINTS: [Point; [$($index),*].len()] = [$(
            Point {
                target: $target,
                family: Family::$family,
                hook: Hook::$hook,
                group: $group,
                stem: stringify!($stem),
            },
        )*];

        /// The index of each point in [`POINTS`], by the point's name in
        /// [`for_each_point!`](crate::for_each_point).
        pub mod idx {
            $(
                #[doc = concat!(
                    "Index in [`POINTS`](super::POINTS) of `", $target, "` (",
                    stringify!($family), ", ", stringify!($hook), ")."
                )]
                pub const $konst: u16 = $index;
            )*
        }

        /// The indexes as written in the list, checked to be 0, 1, 2, ...
        const WRITTEN_INDEXES: [u16; POINTS.len()] = [$($index),*];
    };
}

for_each_point!(point_table);

const _: () = {
    let mut i = 0;
    while i < WRITTEN_INDEXES.len() {
        assert!(
            WRITTEN_INDEXES[i] as usize == i,
            "for_each_point!: indexes must be 0, 1, 2, ... in order"
        );
        i += 1;
    }
    assert!(POINTS.len() <= crate::config::MAX_POINTS);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_constants_name_their_points() {
        let pairs: &[(u16, &str)] = &[
            (idx::MEMREMAP_PAGES, "memremap_pages"),
            (
                idx::PUT_DEVMAP_MANAGED_PAGE_OLD,
                "__put_devmap_managed_page",
            ),
            (idx::PMD_FAULT_DONE, "fs_dax/dax_pmd_fault_done"),
            (idx::STUCK_SCAN, "cpu-clock"),
            (idx::UNPIN_USER_PAGES, "unpin_user_pages"),
        ];
        for (i, name) in pairs {
            assert_eq!(POINTS[*i as usize].target, *name, "index {i}");
        }
    }

    #[test]
    fn only_shared_points_repeat_a_stem() {
        macro_rules! shared_stems {
            ($($konst:ident = $index:literal, $target:literal, $family:ident, $hook:ident, $group:literal, $stem:ident $(, $shared:ident)?;)*) => {
                [$(( $index as usize, false $(|| stringify!($shared) == "shared")? )),*]
            };
        }
        let shared: [(usize, bool); POINTS.len()] = for_each_point!(shared_stems);
        for (i, a) in POINTS.iter().enumerate() {
            let earlier = POINTS[..i].iter().any(|b| b.stem == a.stem);
            assert_eq!(earlier, shared[i].1, "{}: shared marker", a.stem);
            if earlier {
                assert_eq!(a.hook, Hook::Tracepoint, "{}", a.stem);
            }
        }
    }
}
