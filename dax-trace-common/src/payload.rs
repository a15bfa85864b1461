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
use crate::field::{
    ClaimApiCode, Dev, DiskName, Flag, OptU64, PathName, ShortName, StackId, WaitApiCode,
};

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
        /// The kernel stack of the call (0: none). Appended in format version 3:
        /// older records read as 0.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad_stack: u32,
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
        /// The kernel stack of the call (0: none). Appended in format version 3:
        /// older records read as 0.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad_stack: u32,
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
        /// The kernel stack of the call (0: none). Appended in format version 3:
        /// older records read as 0.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad_stack: u32,
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

    /// An owner of an FS-DAX page: a task that took references on it through
    /// get_user_pages / pin_user_pages. Owners live in a kernel map (a pin is
    /// not streamed); an owner is sent once, when a busy page it holds is
    /// first met. The header's pid, tid and comm are the owner's, its `point`
    /// the gup entry point it pinned through, its `ts_ns` when it was reported.
    pub struct PinOwner {
        pub page: u64,
        pub pfn: u64,
        pub pgmap: u64,
        /// When the owner took the oldest of the references it still holds.
        pub since_ns: u64,
        /// References it holds now.
        pub refs: u32,
        /// FOLL_PIN (`pin_user_pages*`) rather than FOLL_GET.
        pub pin: Flag,
        /// Its kernel stack when it took the first of those references.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        /// The pages belong to another process's mm (`*_remote`).
        pub remote: Flag,
    }

    /// A reported owner no longer holds the page: its last reference was
    /// put, or the page went idle. The header is the task that put it (often
    /// an interrupt or a worker), not the owner.
    pub struct PinRelease {
        pub page: u64,
        pub pfn: u64,
        /// The owner's `since_ns`.
        pub since_ns: u64,
        pub owner_pid: u32,
        pub owner_tid: u32,
        pub pin: Flag,
        /// Closed because the page went idle (every owner closes), rather
        /// than by a put of the owner's own references.
        pub by_idle: Flag,
    }

    /// A long-term pin (FOLL_LONGTERM: RDMA memory registration, io_uring
    /// fixed buffers, vfio) refused with EOPNOTSUPP, the kernel's answer for
    /// FS-DAX memory. The header is the task that asked.
    pub struct RefusedPin {
        /// First user address asked for.
        pub start: u64,
        pub nr_pages: u64,
        /// The gup flags passed (FOLL_* values of this kernel).
        pub gup_flags: u32,
        /// The return value (-95, EOPNOTSUPP).
        pub ret: i32,
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        pub pin: Flag,
        /// The file mapped at `start`, from /proc/PID/maps when recording
        /// (empty when the task was gone or the memory is not a file).
        pub path: PathName,
    }

    /// Userspace, periodic: cumulative put counters of one pagemap, summed
    /// over CPUs (puts are counted in a kernel map, never streamed).
    pub struct PutStats {
        pub pgmap: u64,
        pub puts: u64,
        pub idles: u64,
    }

    /// Userspace, periodic: what one attach point lost so far, for one
    /// reason (cumulative).
    pub struct Drops {
        /// The attach point (index into `probe::POINTS`).
        pub point: u16,
        /// A [`crate::Loss`]: 0, events the ring buffer had no room for,
        /// is what every trace before reasons existed carries.
        #[cfg_attr(feature = "user", serde(default))]
        pub reason: u16,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: [u16; 2],
        pub total: u64,
    }

    // ---- the state at start ----------------------------------------------
    //
    // Userspace reads what already exists when a live front end attaches
    // (kernel structures through a one-shot eBPF read, sysfs, mountinfo) and
    // sends it as these events, all stamped with the time of the reading and
    // closed by one `StateEnd`. Kept true while running by the same kinds
    // with `reason` "update" (see `StateEnd`). docs/probes.md lists the
    // sources per kernel generation.

    /// A `dev_pagemap` that existed before the trace (from the kernel's
    /// `pgmap_array`).
    pub struct StatePagemap {
        pub pgmap: u64,
        /// `pgmap->type` (`enum memory_type`).
        pub memory_type: u32,
        /// The type is `MEMORY_DEVICE_FS_DAX` on this kernel (from BTF).
        pub fs_dax: Flag,
        /// First pfn of the first range.
        pub pfn_start: u64,
        /// End pfn (exclusive) of the first range.
        pub pfn_end: u64,
        /// Pages over all ranges.
        pub pages: u64,
        pub nr_range: u32,
        /// The block device whose namespace holds the range (sysfs); 0 when none.
        pub bdev: Dev,
        /// `pgmap->owner` (0 where the kernel has none).
        pub owner: u64,
        /// That block device's name (`pmem0`); empty when none.
        pub disk: DiskName,
        /// The nvdimm namespace or device-dax device behind it (`namespace0.0`, `dax0.0`).
        pub backing: DiskName,
    }

    /// A `dax_device` that existed before the trace (from the dax
    /// pseudo-filesystem's inodes).
    pub struct StateDaxDevice {
        pub dax_dev: u64,
        /// `holder_data` (0: none, or a kernel without holders).
        pub holder: u64,
        /// `holder_ops` (6.1+).
        pub holder_ops: u64,
        /// The disk the device serves (`dax_hosts` on 6.1+, `host` on 5.x).
        pub disk: DiskName,
        /// That disk's dev_t (0 when unknown).
        pub bdev: Dev,
        /// `DAXDEV_ALIVE` is set.
        pub alive: Flag,
        /// Claims held on it: the references on its inode beyond its own.
        pub claims: u32,
        /// The kernel keeps a holder per device (6.1+).
        pub has_holders: Flag,
        /// Size of the disk in bytes (sysfs; 0 when unknown).
        pub size_bytes: u64,
    }

    /// A mounted filesystem on a DAX-capable block device (mountinfo), at
    /// start or (reason "update") mounted or unmounted while running.
    pub struct StateMount {
        /// The filesystem's device (mountinfo major:minor).
        pub dev: Dev,
        /// Still mounted (false: an update saying it went away).
        pub mounted: Flag,
        /// Mounted with DAX on (`dax`, `dax=always` in the options).
        pub dax: Flag,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `ext4`, `xfs`...
        pub fstype: ShortName,
        /// The disk (`pmem0`, `dm-0`).
        pub disk: DiskName,
        /// The first mount point of the superblock (cut at 127 bytes).
        pub mount_point: PathName,
    }

    /// One target of a device-mapper table over a DAX member (sysfs and the
    /// dm ioctl), at start or (reason "update") loaded or removed.
    pub struct StateDmTarget {
        /// The dm device (`dm-0`) and its dev_t.
        pub dm: Dev,
        pub member: Dev,
        pub dm_disk: ShortName,
        /// The dm name (`/dev/mapper/NAME`, cut at 31 bytes).
        pub dm_name: DiskName,
        pub member_disk: DiskName,
        /// `linear`, `striped`...
        pub target: ShortName,
        /// Where the target starts in the dm device, and its length (sectors).
        pub start_sector: u64,
        pub sectors: u64,
        /// Where it maps to on the member (sectors; linear only, else 0).
        pub member_sector: u64,
        /// Still loaded (false: an update saying it went away).
        pub present: Flag,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
    }

    /// A thread already asleep in a break-layouts wait (found on the kernel's
    /// var-wait queues, waiting on a page of an FS-DAX pagemap). The event
    /// header's tid and comm are the waiter's. Sent again with `ended` when
    /// the waiter no longer sleeps there.
    pub struct StateWait {
        pub page: u64,
        pub pfn: u64,
        pub pgmap: u64,
        pub ino: u64,
        pub dev: Dev,
        pub waiter_tid: u32,
        /// The page's index in the file.
        pub index: OptU64,
        /// Page refcount when seen.
        pub refcount: u64,
        /// Asleep at least this long when found (0 when unknown).
        pub slept_ns: u64,
        /// The page is idle by the kernel's rule while the waiter sleeps.
        pub idle: Flag,
        /// The waiter no longer sleeps on the page.
        pub ended: Flag,
    }

    /// A page of an FS-DAX pagemap referenced beyond the kernel's idle rule
    /// when the census ran.
    pub struct StateBusyPage {
        pub pgmap: u64,
        pub page: u64,
        pub pfn: u64,
        pub refcount: u64,
        /// `_mapcount + 1` (page-table mappings; 6.15+ subtracts them from the refcount).
        pub mapcount: i64,
        /// The file's `address_space` (0 when none).
        pub mapping: u64,
        pub ino: u64,
        pub dev: Dev,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        pub index: OptU64,
    }

    /// Closes one reading of the state: what was read and what was not.
    pub struct StateEnd {
        /// 0: the state at start; 1: an update while running.
        pub reason: u32,
        /// `STATE_*` bits of the sources that could be read on this kernel.
        pub available: u32,
        pub pagemaps: u32,
        pub dax_devices: u32,
        pub mounts: u32,
        pub dm_targets: u32,
        pub waits: u32,
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// Census: busy pages found, pages examined, pages in FS-DAX pagemaps.
        pub busy_pages: u64,
        pub pages_scanned: u64,
        pub pages_total: u64,
        /// Time the reading took.
        pub elapsed_ns: u64,
    }
}

/// [`StateEnd::available`] bits: which parts of the state could be read.
pub mod state_bits {
    pub const PAGEMAPS: u32 = 1;
    pub const DAX_DEVICES: u32 = 2;
    pub const DAX_HOSTS: u32 = 4;
    pub const MOUNTS: u32 = 8;
    pub const DM: u32 = 16;
    pub const WAITS: u32 = 32;
    pub const CENSUS: u32 = 64;
    /// Names, in bit order.
    pub const NAMES: [(u32, &str); 7] = [
        (PAGEMAPS, "pagemaps"),
        (DAX_DEVICES, "dax-devices"),
        (DAX_HOSTS, "dax-hosts"),
        (MOUNTS, "mounts"),
        (DM, "dm"),
        (WAITS, "waits"),
        (CENSUS, "census"),
    ];
}
