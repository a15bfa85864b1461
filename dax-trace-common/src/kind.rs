//! Event kinds and the meaning of [`crate::RawEvent::a`] for each.
//!
//! Pointers are kernel virtual addresses, kept as identities (never dereferenced
//! by userspace). `dev` values are kernel `dev_t` (MAJOR << 20 | MINOR).

/// A `dev_pagemap` came to life (`memremap_pages`).
/// a0 pgmap, a1 memory_type, a2 first pfn, a3 end pfn (exclusive), a4 nr_range,
/// a5 owner, a6 return value (0 or a negative errno), a7 1 when type is FS_DAX.
pub const PAGEMAP_CREATE: u16 = 1;
/// A `dev_pagemap` went away (`memunmap_pages`). a0 pgmap.
pub const PAGEMAP_DESTROY: u16 = 2;
/// A claim of a dax_device (mount, dm table open, seed `fs_dax_claim*`).
/// a0 dax_dev returned/claimed (0 when refused), a1 holder, a2 bdev dev_t,
/// a3 holder_ops, a4 1 when granted, a5 [`crate::probe::ClaimApi`], a6 start_off.
/// name: disk name of the block device (or the host name for `dax_get_by_host`).
pub const CLAIM: u16 = 3;
/// A release of a dax_device. a0 dax_dev, a1 holder (0 when the API has none),
/// a2 [`crate::probe::ClaimApi`], a3 holder_data seen in the device before the
/// release (0 when the kernel has no holders).
pub const RELEASE: u16 = 4;
/// A dax_device was allocated (`alloc_dax` return). a0 dax_dev, a1 private.
pub const DAX_ALLOC: u16 = 5;
/// A dax_device was killed (`kill_dax`). a0 dax_dev, a1 holder_data at the time.
pub const DAX_KILL: u16 = 6;
/// A dax_device was bound to a disk (`dax_add_host`). a0 dax_dev, name disk.
pub const DAX_ADD_HOST: u16 = 7;
/// A watched ZONE_DEVICE page (one a waiter sleeps on) became idle by the
/// kernel's rule. a0 pgmap, a1 pfn, a2 page, a3 refcount after the put.
pub const PAGE_IDLE: u16 = 8;
/// `dax_layout_busy_page*` returned a busy page.
/// a0 mapping, a1 page, a2 pfn, a3 inode number, a4 s_dev, a5 pgmap, a6 refcount,
/// a7 the page's index in the file plus one (0: unknown).
pub const BUSY_PAGE: u16 = 9;
/// A thread started waiting for a file's DAX pages to go idle.
/// a0 inode, a1 inode number, a2 s_dev, a3 [`crate::probe::WaitApi`].
pub const WAIT_BEGIN: u16 = 10;
/// The wait ended. a0 inode, a1 inode number, a2 s_dev, a3 WaitApi,
/// a4 latency ns, a5 return value, a6 last busy pfn seen (0: none), a7 busy hits.
pub const WAIT_END: u16 = 11;
/// A device-mapper dax access fanned out to a member device.
/// a0 dm dax_dev, a1 member dax_dev, a2 pgoff on dm, a3 pgoff on the member,
/// a4 nr_pages.
pub const DM_ACCESS: u16 = 12;
/// A dm table's dax capability check. a0 table, a1 result (1 capable).
pub const DM_TABLE_DAX: u16 = 13;
/// DAX fault done (`fs_dax:dax_pte_fault_done` / `dax_pmd_fault_done`).
/// a0 s_dev, a1 inode number, a2 address, a3 pgoff, a4 result (VM_FAULT_*),
/// a5 1 for PMD.
pub const FAULT: u16 = 14;
/// `memory_failure_event`. a0 pfn, a1 type (MF_MSG_*), a2 result.
pub const MEMORY_FAILURE: u16 = 15;
/// `dax_holder_notify_failure`. a0 dax_dev, a1 offset, a2 length, a3 flags,
/// a4 holder_data.
pub const HOLDER_NOTIFY_FAILURE: u16 = 16;
/// A waiter sleeps on a page that is idle by the kernel's rule: a lost wakeup.
/// a0 page, a1 pfn, a2 refcount now, a3 wait begin ns, a4 inode number,
/// a5 s_dev, a6 waiter tid, a7 pgmap.
pub const STUCK_WAIT: u16 = 17;
/// A member device was taken or dropped by device mapper (table open/close).
/// a0 member dax_dev, a1 1 taken / 0 dropped, a2 bdev dev_t. name disk.
pub const DM_MEMBER: u16 = 18;

/// Human name of a kind, for logs and errors.
pub fn name(kind: u16) -> &'static str {
    match kind {
        PAGEMAP_CREATE => "pagemap-create",
        PAGEMAP_DESTROY => "pagemap-destroy",
        CLAIM => "claim",
        RELEASE => "release",
        DAX_ALLOC => "dax-alloc",
        DAX_KILL => "dax-kill",
        DAX_ADD_HOST => "dax-add-host",
        PAGE_IDLE => "page-idle",
        BUSY_PAGE => "busy-page",
        WAIT_BEGIN => "wait-begin",
        WAIT_END => "wait-end",
        DM_ACCESS => "dm-access",
        DM_TABLE_DAX => "dm-table-dax",
        FAULT => "fault",
        MEMORY_FAILURE => "memory-failure",
        HOLDER_NOTIFY_FAILURE => "holder-notify-failure",
        STUCK_WAIT => "stuck-wait",
        DM_MEMBER => "dm-member",
        _ => "unknown",
    }
}
