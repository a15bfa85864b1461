//! The payload of each event kind: one `#[repr(C)]` struct per kind, filled
//! by name in the eBPF programs and read back unchanged by userspace. A
//! field's meaning is its doc comment here and nowhere else.
//!
//! Pointers are kernel virtual addresses, kept as identities (never
//! dereferenced by userspace). Fields are ordered so that no struct has
//! implicit padding (a `_pad` field fills what alignment would leave), which
//! is what lets userspace view any byte string of the right length as the
//! struct (checked by `bytemuck::Pod` at compile time with the `user`
//! feature).
//!
//! To add a kind: declare its struct here, then give it a number and a name
//! in [`crate::for_each_kind`]. See docs/architecture.md.
use crate::field::{ClaimApiCode, Dev, DiskName, Flag, OptU64, WaitApiCode};

/// Declares payload structs with the derives every payload needs.
macro_rules! payloads {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    )*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[cfg_attr(
            feature = "user",
            derive(serde::Serialize, serde::Deserialize, bytemuck::Pod, bytemuck::Zeroable)
        )]
        pub struct $name { $($body)* }
    )*};
}

payloads! {
    /// A `dev_pagemap` came to life (`memremap_pages` / `devm_memremap_pages` return).
    pub struct PagemapCreate {
        /// The `struct dev_pagemap`.
        pub pgmap: u64,
        /// `pgmap->type` (`enum memory_type`, whose values move between kernels).
        pub memory_type: u32,
        /// The type is `MEMORY_DEVICE_FS_DAX` on this kernel (from BTF).
        pub fs_dax: Flag,
        /// First pfn of the first range.
        pub pfn_start: u64,
        /// End pfn (exclusive) of the first range.
        pub pfn_end: u64,
        /// `pgmap->nr_range` (1 on kernels without it).
        pub nr_range: u32,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `pgmap->owner` (0 where the kernel has none).
        pub owner: u64,
        /// 0 on success, else the negative errno of the ERR_PTR returned.
        pub ret: i64,
    }

    /// A `dev_pagemap` went away (`memunmap_pages`).
    pub struct PagemapDestroy {
        pub pgmap: u64,
    }

    /// A claim of a dax_device: a mount, a dm table taking a member, or the
    /// 2018 seed API `fs_dax_claim*`.
    pub struct Claim {
        /// The dax_device granted; 0 when the claim was refused or the lookup failed.
        pub dax_dev: u64,
        /// The holder passed (6.1+ xfs passes its mount); 0 when the API has none.
        pub holder: u64,
        /// `dax_holder_operations` passed with the holder (6.1+).
        pub holder_ops: u64,
        /// The block device's dev_t (0 for `dax_get_by_host`).
        pub bdev: Dev,
        /// Disk name of the block device (or the host name for `dax_get_by_host`).
        pub disk: DiskName,
        /// The claim succeeded.
        pub granted: Flag,
        pub api: ClaimApiCode,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `*start_off` the kernel filled in (6.1+ `fs_dax_get_by_bdev`).
        pub start_off: u64,
    }

    /// A release of a dax_device (`fs_put_dax`, `put_dax`, seed releases).
    pub struct Release {
        pub dax_dev: u64,
        /// The holder released (0 when the API has none).
        pub holder: u64,
        pub api: ClaimApiCode,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `dax_device.holder_data` before the release (0 where the kernel has no holders).
        pub holder_before: u64,
    }

    /// A dax_device was allocated (`alloc_dax` return).
    pub struct DaxAlloc {
        pub dax_dev: u64,
        /// The driver's private pointer (first argument of `alloc_dax`).
        pub private: u64,
    }

    /// A dax_device was killed (`kill_dax`).
    pub struct DaxKill {
        pub dax_dev: u64,
        /// `holder_data` at the time (the holder is notified on 6.1+).
        pub holder: u64,
    }

    /// A dax_device was bound to a disk (`dax_add_host`).
    pub struct DaxAddHost {
        pub dax_dev: u64,
        pub disk: DiskName,
    }

    /// A watched ZONE_DEVICE page (one a waiter sleeps on) became idle by the
    /// kernel generation's rule.
    pub struct PageIdle {
        pub pgmap: u64,
        pub pfn: u64,
        /// The `struct page` (or folio).
        pub page: u64,
        /// The refcount after the put.
        pub refcount: u64,
    }

    /// `dax_layout_busy_page*` returned a busy page.
    pub struct BusyPage {
        /// The file's `address_space`.
        pub mapping: u64,
        pub page: u64,
        pub pfn: u64,
        /// Inode number of the file.
        pub ino: u64,
        /// The filesystem's `s_dev`.
        pub dev: Dev,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        pub pgmap: u64,
        /// Page refcount when seen.
        pub refcount: u64,
        /// The page's index in the file (its pgoff); none when the kernel
        /// offers no offset for it.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "OptU64::is_none"))]
        pub index: OptU64,
    }

    /// A thread started waiting for a file's DAX pages to go idle (sent when
    /// its first busy page is met, stamped with the time the wait began).
    pub struct WaitBegin {
        /// The `struct inode`.
        pub inode: u64,
        pub ino: u64,
        pub dev: Dev,
        pub api: WaitApiCode,
    }

    /// The wait ended.
    pub struct WaitEnd {
        pub inode: u64,
        pub ino: u64,
        pub dev: Dev,
        pub api: WaitApiCode,
        /// From entering break-layouts to its return.
        pub latency_ns: u64,
        /// The break-layouts return value (0 or a negative errno).
        pub ret: i64,
        /// The last busy pfn met during the wait.
        pub busy_pfn: OptU64,
        /// Busy pages met during the wait.
        pub busy_hits: u64,
    }

    /// A device-mapper dax access fanned out to a member device (the first
    /// time per dm/member pair).
    pub struct DmAccess {
        pub dm_dax_dev: u64,
        pub member_dax_dev: u64,
        pub dm_pgoff: u64,
        pub member_pgoff: u64,
        pub nr_pages: u64,
    }

    /// A dm table's dax capability check (`dm_table_supports_dax` return).
    pub struct DmTableDax {
        /// The `struct dm_table`.
        pub table: u64,
        pub capable: Flag,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
    }

    /// A member device was taken or dropped by device mapper (table open/close).
    pub struct DmMember {
        pub member_dax_dev: u64,
        /// Taken (true) or dropped.
        pub taken: Flag,
        /// The member's block device (0 when the API gave none: 5.10).
        pub bdev: Dev,
        pub disk: DiskName,
    }

    /// A DAX fault finished (`fs_dax:dax_pte_fault_done` / `dax_pmd_fault_done`).
    pub struct Fault {
        pub dev: Dev,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        pub ino: u64,
        /// Faulting user address.
        pub address: u64,
        pub pgoff: u64,
        /// `VM_FAULT_*` bits.
        pub result: u32,
        /// A PMD (huge) fault.
        pub pmd: Flag,
    }

    /// `memory_failure_event` tracepoint.
    pub struct MemoryFailure {
        pub pfn: u64,
        /// `MF_MSG_*`.
        pub mf_type: u32,
        /// `MF_IGNORED` / `MF_FAILED` / `MF_DELAYED` / `MF_RECOVERED`.
        pub result: u32,
    }

    /// `dax_holder_notify_failure`: the holder of a dax_device is told of a
    /// failed range.
    pub struct HolderNotifyFailure {
        pub dax_dev: u64,
        /// Byte offset into the device.
        pub offset: u64,
        pub len: u64,
        /// `MF_*` flags.
        pub flags: u64,
        /// `holder_data` notified.
        pub holder: u64,
    }

    /// A waiter sleeps on a page that is idle by the kernel's rule: a lost wakeup.
    pub struct StuckWait {
        pub page: u64,
        pub pfn: u64,
        /// Refcount now.
        pub refcount: u64,
        /// When the waiter started watching the page.
        pub wait_begin_ns: u64,
        pub ino: u64,
        pub dev: Dev,
        pub waiter_tid: u32,
        pub pgmap: u64,
    }

    /// Userspace, periodic: cumulative put counters of one pagemap, summed
    /// over CPUs (puts are counted in a kernel map, never streamed).
    pub struct PutStats {
        pub pgmap: u64,
        pub puts: u64,
        pub idles: u64,
    }

    /// Userspace, periodic: cumulative events lost at one attach point.
    pub struct Drops {
        /// The attach point (index into `probe::POINTS`).
        pub point: u16,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: [u16; 3],
        pub total: u64,
    }
}
