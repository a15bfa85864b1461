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
    ClaimApiCode, Dev, DiskName, Flag, MemoryKindCode, OptU64, PathName, ShortName, StackId,
    WaitApiCode,
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
        /// The `struct dev_pagemap *` passed in (`memremap_pages`' first argument,
        /// `devm_memremap_pages`' second).
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
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `pgmap->owner` (0 where the kernel has none).
        pub owner: u64,
        /// 0 on success, else the negative errno of the ERR_PTR returned.
        pub ret: i64,
        /// `memory_type` as a kind that means the same on every kernel.
        /// Appended in format version 5 (with the fields below): older
        /// records read as unknown.
        #[cfg_attr(feature = "user", serde(default))]
        pub kind: MemoryKindCode,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad2: u32,
        /// The device whose range the pagemap maps (`dax0.0`, `namespace0.0`),
        /// read from sysfs by the recorder when the event arrives; empty when
        /// none was found.
        #[cfg_attr(feature = "user", serde(default))]
        pub device: DiskName,
        /// The driver bound to that device then (`device_dax`, `fsdev_dax`,
        /// `nd_pmem`); empty when unbound or not found.
        #[cfg_attr(feature = "user", serde(default))]
        pub driver: DiskName,
    }

    /// A `dev_pagemap` went away (`memunmap_pages`).
    pub struct PagemapDestroy {
        /// The `struct dev_pagemap *` passed to `memunmap_pages` (as in its `PagemapCreate`).
        pub pgmap: u64,
    }

    /// A claim of a dax_device: a mount, a dm table taking a member, or the
    /// 2018 seed API `fs_dax_claim*`.
    pub struct Claim {
        /// The dax_device granted (the return value, or `fs_dax_get`'s first argument);
        /// 0 when the claim was refused or the lookup failed.
        pub dax_dev: u64,
        /// The holder passed (third argument of 6.1+ `fs_dax_get_by_bdev`, second of the
        /// others; 6.1+ xfs passes its mount); 0 when the API has none.
        pub holder: u64,
        /// `dax_holder_operations` passed with the holder (last argument of 6.1+
        /// `fs_dax_get_by_bdev` and of `fs_dax_get`); 0 otherwise.
        pub holder_ops: u64,
        /// `bdev->bd_dev` of the block device passed in; 0 for the APIs that take none
        /// (`dax_get_by_host`, `fs_dax_get`, `fs_dax_claim`, `dm_dax_fs_claim`).
        pub bdev: Dev,
        /// `bdev->bd_disk->disk_name`, or the host name passed to `dax_get_by_host`;
        /// empty for the APIs that take neither.
        pub disk: DiskName,
        /// The claim succeeded.
        pub granted: Flag,
        /// The function of the outermost claim call, a [`ClaimApi`](crate::probe::ClaimApi) number.
        pub api: ClaimApiCode,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `*start_off` as the kernel filled it in (`fs_dax_get_by_bdev` with that
        /// argument): the partition's start on the disk, in bytes; 0 otherwise.
        pub start_off: u64,
        /// The kernel stack of the call (0: none). Appended in format version 3:
        /// older records read as 0.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad_stack: u32,
    }

    /// A release of a dax_device (`fs_put_dax`, `put_dax`, seed releases).
    pub struct Release {
        /// The `struct dax_device *` released (the function's first argument).
        pub dax_dev: u64,
        /// The holder released (the second argument); 0 for `put_dax`, which has none.
        pub holder: u64,
        /// The release function, a [`ClaimApi`](crate::probe::ClaimApi) number (`FsPutDax`,
        /// `PutDax` or a seed API).
        pub api: ClaimApiCode,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `dax_device.holder_data` before the release (0 where the kernel has no holders).
        pub holder_before: u64,
        /// The kernel stack of the call (0: none). Appended in format version 3:
        /// older records read as 0.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad_stack: u32,
    }

    /// A dax_device was allocated (`alloc_dax` return).
    pub struct DaxAlloc {
        /// The new `struct dax_device *` (`alloc_dax`'s return; an ERR_PTR sends nothing).
        pub dax_dev: u64,
        /// The driver's private pointer (first argument of `alloc_dax`).
        pub private: u64,
    }

    /// A dax_device was killed (`kill_dax`).
    pub struct DaxKill {
        /// The `struct dax_device *` passed to `kill_dax`.
        pub dax_dev: u64,
        /// Its `holder_data` read at `kill_dax` entry (the holder is notified on 6.1+);
        /// 0 where the kernel has no holders.
        pub holder: u64,
    }

    /// A dax_device was bound to a disk (`dax_add_host`).
    pub struct DaxAddHost {
        /// The `struct dax_device *` (`dax_add_host`'s first argument).
        pub dax_dev: u64,
        /// `disk_name` of the gendisk it was bound to (the second argument).
        pub disk: DiskName,
    }

    /// A watched ZONE_DEVICE page (one a waiter sleeps on) became idle by the
    /// kernel generation's rule.
    pub struct PageIdle {
        /// `page->pgmap`: the page's `struct dev_pagemap *`.
        pub pgmap: u64,
        /// The page's pfn, kept when a break-layouts wait met it busy.
        pub pfn: u64,
        /// The `struct page *` (or folio) the put function was given.
        pub page: u64,
        /// `_refcount` after the put: as read at the put's entry minus the references
        /// put (0 for `free_zone_device_folio`).
        pub refcount: u64,
    }

    /// `dax_layout_busy_page*` returned a busy page.
    pub struct BusyPage {
        /// The file's `address_space` (the first argument of `dax_layout_busy_page*`).
        pub mapping: u64,
        /// The busy `struct page *` (the return value).
        pub page: u64,
        /// Its pfn, from its address (`vmemmap_base`, `sizeof(struct page)`); 0 when unknown.
        pub pfn: u64,
        /// Inode number of the file (`mapping->host->i_ino`).
        pub ino: u64,
        /// The filesystem's device (`mapping->host->i_sb->s_dev`).
        pub dev: Dev,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// `page->pgmap`: the page's `struct dev_pagemap *`.
        pub pgmap: u64,
        /// `page->_refcount` at the return.
        pub refcount: u64,
        /// The page's index in the file (its pgoff); none when the kernel
        /// offers no offset for it.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "OptU64::is_none"))]
        pub index: OptU64,
    }

    /// A thread started waiting for a file's DAX pages to go idle (sent when
    /// its first busy page is met, stamped with the time the wait began).
    pub struct WaitBegin {
        /// The `struct inode *` passed to the outermost break-layouts call.
        pub inode: u64,
        /// Its inode number (`inode->i_ino`).
        pub ino: u64,
        /// Its filesystem's device (`inode->i_sb->s_dev`).
        pub dev: Dev,
        /// The outermost break-layouts function, a [`WaitApi`](crate::probe::WaitApi) number.
        pub api: WaitApiCode,
        /// The kernel stack where the first busy page was met (0: none). Appended in
        /// format version 3: older records read as 0.
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad_stack: u32,
    }

    /// The wait ended.
    pub struct WaitEnd {
        /// The `struct inode *` passed to the outermost break-layouts call.
        pub inode: u64,
        /// Its inode number (`inode->i_ino`).
        pub ino: u64,
        /// Its filesystem's device (`inode->i_sb->s_dev`).
        pub dev: Dev,
        /// The outermost break-layouts function, a [`WaitApi`](crate::probe::WaitApi) number.
        pub api: WaitApiCode,
        /// Nanoseconds from entering the outermost break-layouts call to its return.
        pub latency_ns: u64,
        /// Its return value (0 or a negative errno, sign-extended from the int).
        pub ret: i64,
        /// The pfn of the last busy page met during the wait (none when unknown).
        pub busy_pfn: OptU64,
        /// Busy pages `dax_layout_busy_page*` returned during the wait (a page met
        /// again counts again); at least 1, waits that met none are not sent.
        pub busy_hits: u64,
    }

    /// A device-mapper dax access fanned out to a member device (the first
    /// time per dm/member pair).
    pub struct DmAccess {
        /// The dm device's `struct dax_device *` (`dm_dax_direct_access`' first argument).
        pub dm_dax_dev: u64,
        /// The member's `struct dax_device *` (first argument of the nested `dax_direct_access`).
        pub member_dax_dev: u64,
        /// Page offset asked of the dm device (`dm_dax_direct_access`' `pgoff`, in pages).
        pub dm_pgoff: u64,
        /// The page offset it maps to on the member (`dax_direct_access`' `pgoff`, in pages).
        pub member_pgoff: u64,
        /// Pages asked of the dm device (`dm_dax_direct_access`' `nr_pages`).
        pub nr_pages: u64,
    }

    /// A dm table's dax capability check (`dm_table_supports_dax` return).
    pub struct DmTableDax {
        /// The `struct dm_table`.
        pub table: u64,
        /// The return value (its low byte) is true: the table's targets support DAX.
        pub capable: Flag,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
    }

    /// A member device was taken or dropped by device mapper (table open/close).
    pub struct DmMember {
        /// The member's `struct dax_device *`: granted to, or released by, the claim or
        /// release nested in `dm_get_table_device` / `dm_put_table_device`.
        pub member_dax_dev: u64,
        /// Taken (true) or dropped.
        pub taken: Flag,
        /// The member's block device (`bd_dev`, from the claim); 0 on a drop and on 5.10,
        /// whose `dax_get_by_host` takes a name.
        pub bdev: Dev,
        /// The member's disk name (from the claim); empty on a drop.
        pub disk: DiskName,
    }

    /// A DAX fault finished (`fs_dax:dax_pte_fault_done` / `dax_pmd_fault_done`).
    pub struct Fault {
        /// The record's `dev`: the faulting file's filesystem device (`i_sb->s_dev`).
        pub dev: Dev,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// The record's `ino`: the faulting file's inode number.
        pub ino: u64,
        /// Faulting user address (the record's `address`, `vmf->address`).
        pub address: u64,
        /// The record's `pgoff`: offset of the faulting page in the file, in pages.
        pub pgoff: u64,
        /// `VM_FAULT_*` bits the fault handler returned (the record's `result`).
        pub result: u32,
        /// A PMD (huge) fault.
        pub pmd: Flag,
    }

    /// `memory_failure_event` tracepoint.
    pub struct MemoryFailure {
        /// The record's `pfn`: the page frame that failed.
        pub pfn: u64,
        /// `MF_MSG_*`: the kind of page that failed (the record's `type`).
        pub mf_type: u32,
        /// `MF_IGNORED` / `MF_FAILED` / `MF_DELAYED` / `MF_RECOVERED` (the record's `result`).
        pub result: u32,
    }

    /// `dax_holder_notify_failure`: the holder of a dax_device is told of a
    /// failed range.
    pub struct HolderNotifyFailure {
        /// The `struct dax_device *` (the first argument).
        pub dax_dev: u64,
        /// Byte offset of the failed range into the device (the second argument).
        pub offset: u64,
        /// Length of the failed range in bytes (the third argument).
        pub len: u64,
        /// `MF_*` flags (the fourth argument).
        pub flags: u64,
        /// The device's `holder_data` (the holder notified), read at entry.
        pub holder: u64,
    }

    /// A waiter sleeps on a page that is idle by the kernel's rule: a lost wakeup.
    pub struct StuckWait {
        /// The watched `struct page *`: a busy page the waiter met.
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// `page->_refcount` at the scan (equal to the kernel's idle count).
        pub refcount: u64,
        /// When the waiter first met the page busy (CLOCK_MONOTONIC ns).
        pub wait_begin_ns: u64,
        /// Inode number of the file the waiter breaks layouts on (`mapping->host`).
        pub ino: u64,
        /// That file's filesystem device (`i_sb->s_dev`).
        pub dev: Dev,
        /// The thread that met the page busy and still sleeps in break-layouts (the
        /// header is whichever task the scan's timer interrupted).
        pub waiter_tid: u32,
        /// `page->pgmap`: the page's `struct dev_pagemap *`.
        pub pgmap: u64,
    }

    /// An owner of an FS-DAX page: a task that took references on it through
    /// get_user_pages / pin_user_pages. Owners live in a kernel map (a pin is
    /// not streamed); an owner is sent once, when a busy page it holds is
    /// first met. The header's pid, tid and comm are the owner's, its `point`
    /// the gup entry point it pinned through, its `ts_ns` when it was reported.
    pub struct PinOwner {
        /// The busy `struct page *` the owner holds references on.
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// `page->pgmap`: the page's `struct dev_pagemap *`.
        pub pgmap: u64,
        /// When the owner took the oldest of the references it still holds
        /// (CLOCK_MONOTONIC ns).
        pub since_ns: u64,
        /// References it holds now, one per gup call that returned the page (a FOLL_PIN
        /// counts 1 here, not the kernel's bias of 1024).
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
        /// The `struct page *` the owner held (the page put, or gone idle).
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// The owner's `since_ns` (CLOCK_MONOTONIC ns), as in its `PinOwner`.
        pub since_ns: u64,
        /// The owner's thread group id (the header's pid is the putter's).
        pub owner_pid: u32,
        /// The owner's thread id.
        pub owner_tid: u32,
        /// The owner's references were FOLL_PIN (`pin_user_pages*`) rather than FOLL_GET.
        pub pin: Flag,
        /// Closed because the page went idle (every owner closes), rather
        /// than by a put of the owner's own references.
        pub by_idle: Flag,
    }

    /// A long-term pin (FOLL_LONGTERM: RDMA memory registration, io_uring
    /// fixed buffers, vfio) refused with EOPNOTSUPP, the kernel's answer for
    /// FS-DAX memory. The header is the task that asked.
    pub struct RefusedPin {
        /// First user address asked for (the call's `start` argument).
        pub start: u64,
        /// Pages asked for (the call's `nr_pages` argument).
        pub nr_pages: u64,
        /// The `gup_flags` passed (FOLL_* values of this kernel; FOLL_LONGTERM is set).
        pub gup_flags: u32,
        /// The return value: -95 (EOPNOTSUPP).
        pub ret: i32,
        /// The kernel stack of the refused call (0: none).
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
        /// A `pin_user_pages*` call, or FOLL_PIN in the flags (FOLL_GET otherwise).
        pub pin: Flag,
        /// The file mapped at `start`; what it holds is `path_from`. The
        /// kernel writes the dentry names from the filesystem's root
        /// (`/dir/file`), recording joins the mount point of `dev`; from
        /// /proc/PID/maps when the kernel named nothing (empty when the task
        /// was gone or the memory is not a file).
        pub path: PathName,
        /// `s_dev` of the mapped file's superblock, read at the refusal (0:
        /// the kernel found no file, or a trace older than format 5).
        pub dev: Dev,
        /// Where `path` comes from: one of the `PATH_FROM_*` values.
        pub path_from: u32,
        /// The mapped file's inode number, read at the refusal (0: none).
        pub ino: u64,
    }

    /// A DAX page left its file for good (`dax_disassociate_entry` with
    /// `trunc`: truncate, hole punch, eviction, unmount) while still
    /// referenced beyond the kernel's idle rule: the file gives the block
    /// back while DMA (or a pipe) may still target the page. The header is
    /// the thread that dropped the entry (the unlinker, the unmounter, the
    /// truncater).
    pub struct PageOrphaned {
        /// The first busy `struct page *` of the entry.
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// `page->pgmap`: the page's `struct dev_pagemap *`.
        pub pgmap: u64,
        /// The file's `address_space` (the entry's mapping).
        pub mapping: u64,
        /// Inode number of the file (`mapping->host->i_ino`).
        pub ino: u64,
        /// The file's filesystem device (`mapping->host->i_sb->s_dev`).
        pub dev: Dev,
        /// The page's place in the entry (0 for a PTE entry; up to 511 in a
        /// PMD entry): the entry's pages before it were idle.
        pub first_busy: u32,
        /// The page's index in the file, in pages, read before the kernel
        /// clears it (none when unknown).
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "OptU64::is_none"))]
        pub index: OptU64,
        /// `page->_refcount` of that page when its entry was dropped.
        pub refcount: u64,
        /// Pages the entry covers: 1, or 512 for a PMD entry.
        pub entry_pages: u32,
        /// The kernel stack of the thread that dropped the entry (0: none).
        #[cfg_attr(feature = "user", serde(default, skip_serializing_if = "StackId::is_none"))]
        pub stack: StackId,
    }

    /// An orphaned page (see [`PageOrphaned`]) went idle: whatever kept it
    /// busy after its file let it go has let it go too. The header is the
    /// task that put it, or the scanner's.
    pub struct OrphanIdle {
        /// The `struct page *`.
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// When its entry was dropped (CLOCK_MONOTONIC ns): the header's
        /// time minus this is how long the page stayed busy after.
        pub orphaned_ns: u64,
        /// `page->_refcount` when seen idle.
        pub refcount: u64,
        /// Inode number of the file it left.
        pub ino: u64,
        /// That file's filesystem device.
        pub dev: Dev,
        /// The thread that dropped the entry.
        pub orphaner_tid: u32,
    }

    /// A waiter in an uninterruptible wait for idle pages (eviction or
    /// unmount, 6.15+) has slept longer than the stuck threshold on a page
    /// that is still busy: it hangs until whoever holds the page lets go
    /// (a pipe's vmsplice, a DMA that never completes). Sent once per
    /// waiter and page.
    pub struct BlockedWait {
        /// The busy `struct page *` the waiter sleeps on.
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// `page->_refcount` at the scan (above the kernel's idle count).
        pub refcount: u64,
        /// When the waiter first met the page busy (CLOCK_MONOTONIC ns).
        pub wait_begin_ns: u64,
        /// Inode number of the file being evicted.
        pub ino: u64,
        /// That file's filesystem device.
        pub dev: Dev,
        /// The sleeping thread (the header is whichever task the scan's
        /// timer interrupted).
        pub waiter_tid: u32,
        /// `page->pgmap`: the page's `struct dev_pagemap *`.
        pub pgmap: u64,
    }

    /// A flush of a virtio-pmem device finished: `virtio_pmem_flush` sent
    /// the host a flush request (for an fsync, a journal commit, a
    /// REQ_PREFLUSH or FUA bio) and slept until it answered. The header is
    /// the thread that waited: the flusher itself, or a flush worker
    /// (6.12+ queue the request to one).
    pub struct PmemFlush {
        /// The region's `struct nd_region *`.
        pub region: u64,
        /// Entry to return, in nanoseconds: the host's answer included.
        pub latency_ns: u64,
        /// The region's pmem disk, from the last flush bio
        /// `async_pmem_flush` saw for it (0: none yet, or this kernel's bio
        /// has no `bi_bdev`, before 5.12).
        pub dev: Dev,
        /// 0, or the negative errno the flush returned (-EIO: the host
        /// failed it).
        pub ret: i32,
    }

    /// Userspace, periodic: cumulative put counters of one pagemap, summed
    /// over CPUs (puts are counted in a kernel map, never streamed).
    pub struct PutStats {
        /// The `struct dev_pagemap *` of the pages put (the `PGMAP_PUTS` key).
        pub pgmap: u64,
        /// Puts seen on its pages since attach, summed over CPUs.
        pub puts: u64,
        /// Of those, puts that left the page idle by the kernel generation's rule.
        pub idles: u64,
    }

    /// Userspace, periodic: DAX faults of one (device, size, result)
    /// counted in the kernel since the last such event (the default: no
    /// `Fault` record per fault). Means the same as `count` `Fault` events
    /// with these fields; it carries no address, inode or task. Sent when
    /// the count grew, about once a second and once more at the stop.
    pub struct FaultCounts {
        /// The faulting files' filesystem device (`i_sb->s_dev`).
        pub dev: Dev,
        /// PMD (huge) faults (true) or PTE faults.
        pub pmd: Flag,
        /// `VM_FAULT_*` bits the fault handler returned.
        pub result: u32,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// Faults counted since the previous `FaultCounts` of this key
        /// (summed over CPUs): a delta, not a total.
        pub count: u64,
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
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: [u16; 2],
        /// Losses of this reason at this point since attach, summed over CPUs.
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
        /// The `struct dev_pagemap *` (an entry of `pgmap_array`).
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
        /// Ranges of the pagemap (`nr_range`; 1 on kernels without it).
        pub nr_range: u32,
        /// The block device whose namespace holds the range (sysfs); 0 when none.
        pub bdev: Dev,
        /// `pgmap->owner` (0 where the kernel has none).
        pub owner: u64,
        /// That block device's name (`pmem0`); empty when none.
        pub disk: DiskName,
        /// The nvdimm namespace or device-dax device behind it (`namespace0.0`, `dax0.0`).
        pub backing: DiskName,
        /// `memory_type` as a kind that means the same on every kernel.
        /// Appended in format version 5 (with the fields below): older
        /// records read as unknown.
        #[cfg_attr(feature = "user", serde(default))]
        pub kind: MemoryKindCode,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// The driver bound to the backing device (`device_dax`, `fsdev_dax`,
        /// `nd_pmem`), from sysfs; empty when unbound or not found.
        #[cfg_attr(feature = "user", serde(default))]
        pub driver: DiskName,
    }

    /// A `dax_device` that existed before the trace (from the dax
    /// pseudo-filesystem's inodes).
    pub struct StateDaxDevice {
        /// The `struct dax_device *` (found through its inode).
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
        /// Size of the disk in bytes (sysfs; 0 when unknown), or of the
        /// device-dax device.
        pub size_bytes: u64,
        /// The device-dax device it is (`dax0.0`, by device number in
        /// sysfs); empty for a disk's. Appended in format version 5 (with
        /// `driver`): older records read empty.
        #[cfg_attr(feature = "user", serde(default))]
        pub device: DiskName,
        /// The driver bound to that device-dax device: `device_dax` (a
        /// character device, a pagemap), `fsdev_dax` (fs-dax, a pagemap),
        /// `kmem` (system RAM, no pagemap); empty when unbound.
        #[cfg_attr(feature = "user", serde(default))]
        pub driver: DiskName,
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
        /// Explicit padding (no implicit hole in the layout); always 0.
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
        /// The dm device's dev_t.
        pub dm: Dev,
        /// The member block device's dev_t (a DAX-capable disk the target maps to).
        pub member: Dev,
        /// The dm device's kernel name (`dm-0`).
        pub dm_disk: ShortName,
        /// The dm name (`/dev/mapper/NAME`, cut at 31 bytes).
        pub dm_name: DiskName,
        /// The member's disk name (`pmem0`).
        pub member_disk: DiskName,
        /// `linear`, `striped`...
        pub target: ShortName,
        /// Where the target starts in the dm device (512-byte sectors).
        pub start_sector: u64,
        /// The target's length (512-byte sectors).
        pub sectors: u64,
        /// Where it maps to on the member (sectors; linear only, else 0).
        pub member_sector: u64,
        /// Still loaded (false: an update saying it went away).
        pub present: Flag,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
    }

    /// A thread already asleep in a break-layouts wait (found on the kernel's
    /// var-wait queues, waiting on a page of an FS-DAX pagemap). The event
    /// header's tid and comm are the waiter's. Sent again with `ended` when
    /// the waiter no longer sleeps there.
    pub struct StateWait {
        /// The `struct page *` the waiter sleeps on (the wait key is `&page->_refcount`
        /// before 6.15, the folio from 6.15).
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// The FS-DAX `struct dev_pagemap *` the page belongs to.
        pub pgmap: u64,
        /// Inode number of the page's file (`page->mapping->host`); 0 when none.
        pub ino: u64,
        /// That file's filesystem device (`i_sb->s_dev`); 0 when none.
        pub dev: Dev,
        /// The sleeping thread (the wait entry's task).
        pub waiter_tid: u32,
        /// The page's index in the file, in pages (none when unknown).
        pub index: OptU64,
        /// `page->_refcount` when seen (0 when it could not be read).
        pub refcount: u64,
        /// Asleep at least this long when found (0 when unknown).
        pub slept_ns: u64,
        /// The page is idle by the kernel's rule while the waiter sleeps.
        pub idle: Flag,
        /// The waiter no longer sleeps on the page.
        pub ended: Flag,
        /// It sleeps in TASK_UNINTERRUPTIBLE: the eviction and unmount wait
        /// (`dax_break_layout_final`, 6.15+), which no signal ends; the
        /// break-layouts waits sleep interruptibly. Appended in format
        /// version 4: older records read as false.
        pub uninterruptible: Flag,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
    }

    /// A page of an FS-DAX pagemap referenced beyond the kernel's idle rule
    /// when the census ran.
    pub struct StateBusyPage {
        /// The FS-DAX `struct dev_pagemap *` the census walked.
        pub pgmap: u64,
        /// The busy `struct page *`.
        pub page: u64,
        /// Its pfn.
        pub pfn: u64,
        /// `page->_refcount` when the census read it.
        pub refcount: u64,
        /// `_mapcount + 1` (page-table mappings; 6.15+ subtracts them from the refcount).
        pub mapcount: i64,
        /// The file's `address_space` (0 when none).
        pub mapping: u64,
        /// Inode number of `mapping->host`; 0 when none.
        pub ino: u64,
        /// That file's filesystem device (`i_sb->s_dev`); 0 when none.
        pub dev: Dev,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// The page's index in the file, in pages (none when unknown or no file).
        pub index: OptU64,
    }

    /// Closes one reading of the state: what was read and what was not.
    pub struct StateEnd {
        /// 0: the state at start; 1: an update while running.
        pub reason: u32,
        /// `STATE_*` bits of the sources that could be read on this kernel.
        pub available: u32,
        /// `StatePagemap` events in this reading.
        pub pagemaps: u32,
        /// `StateDaxDevice` events in this reading.
        pub dax_devices: u32,
        /// `StateMount` events in this reading (an update counts those it sends).
        pub mounts: u32,
        /// `StateDmTarget` events in this reading (an update counts those it sends).
        pub dm_targets: u32,
        /// `StateWait` events in this reading.
        pub waits: u32,
        /// Explicit padding (no implicit hole in the layout); always 0.
        #[cfg_attr(feature = "user", serde(skip))]
        pub _pad: u32,
        /// Census: busy pages found (the first 4096 are sent as `StateBusyPage`).
        pub busy_pages: u64,
        /// Census: struct pages examined before the census' time budget ran out.
        pub pages_scanned: u64,
        /// Census: pages in all FS-DAX pagemaps.
        pub pages_total: u64,
        /// Wall time the reading took, in nanoseconds.
        pub elapsed_ns: u64,
    }

    /// Whether DAX is in effect on a mount of a DAX-capable device: the
    /// mode its options asked for and what a sample of its regular files
    /// says (statx `STATX_ATTR_DAX`). Sent right after the `StateMount` of
    /// a mounted filesystem, at start and when a mount appears while
    /// running. Appended after format version 4's kinds: older traces have
    /// none.
    pub struct StateDaxMode {
        /// The filesystem's device, as in its `StateMount`.
        pub dev: Dev,
        /// The mode the mount options ask for: 0 none, 1 `dax` (the legacy
        /// option), 2 `dax=always`, 3 `dax=inode`, 4 `dax=never`.
        pub asked: u32,
        /// The kernel reports the DAX attribute at all (`STATX_ATTR_DAX` in
        /// statx's `attributes_mask`, 5.8+); false: the sample says nothing.
        pub reported: Flag,
        /// Regular files of this filesystem examined.
        pub sampled: u32,
        /// Of those, files with `STATX_ATTR_DAX` set.
        pub dax_files: u32,
        /// Why the files could not be examined (an errno: the mount point
        /// unreachable, no permission); 0 when they were.
        pub errno: u32,
        /// The mount point sampled (cut at 127 bytes).
        pub mount_point: PathName,
    }
}

/// [`StateEnd::available`] bits: which parts of the state could be read.
pub mod state_bits {
    /// The pagemaps were read (`pgmap_array`): `StatePagemap`.
    pub const PAGEMAPS: u32 = 1;
    /// The dax devices were read (the dax pseudo-filesystem's inodes): `StateDaxDevice`.
    pub const DAX_DEVICES: u32 = 2;
    /// The disk each dax device serves was read (`dax_hosts` on 6.1+, `host` on 5.x).
    pub const DAX_HOSTS: u32 = 4;
    /// The mounts were read (mountinfo): `StateMount`.
    pub const MOUNTS: u32 = 8;
    /// The device-mapper tables were read (sysfs and the dm ioctl): `StateDmTarget`.
    pub const DM: u32 = 16;
    /// The var-wait queues were read (`bit_wait_table`): `StateWait`.
    pub const WAITS: u32 = 32;
    /// The census of busy pages ran: `StateBusyPage` and the census counts.
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

/// [`RefusedPin::path_from`] values: who named the file, and how much of
/// its path `path` holds.
pub mod path_from {
    /// Recording read `/proc/PID/maps` after the fact (traces before format 5
    /// always; empty when the task had gone).
    pub const MAPS: u32 = 0;
    /// The kernel's dentry names from the filesystem's root (`/dir/file`),
    /// no mount point joined (none was known for `dev`).
    pub const FS_ROOT: u32 = 1;
    /// The kernel's dentry names joined with the mount point of `dev`: a
    /// full path.
    pub const MOUNTED: u32 = 2;
    /// The kernel's dentry names, the deepest ones only (the walk toward the
    /// root stopped before it, or the path was longer than `path`).
    pub const TAIL: u32 = 3;
}
