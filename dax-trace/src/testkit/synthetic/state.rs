//! The state at start of the synthetic scenario, and its updates: what a
//! live front end attaching to the synthetic machine reads first. pmem0
//! (512 MiB, FS-DAX) has xfs mounted on /mnt/xfs since before the trace; a
//! dm-linear `dm-0` (`daxlin`) maps pmem1, with ext4 on /mnt/ext4 over it,
//! left mounted throughout; a file on that ext4 has pages pinned (the
//! census finds them) and a truncate of it is already waiting.
use super::{DAX_DEV, PFN_END, PFN_START, PGMAP, PMEM0, Script, XFS_MP};
use crate::event::{
    Dev, EventBody, StateBusyPage, StateDaxDevice, StateDmTarget, StateEnd, StateMount,
    StatePagemap, StateWait, USERSPACE_POINT,
};
use dax_trace_common::payload::state_bits;

/// `/dev/pmem1` and `/dev/dm-0` over it.
pub const PMEM1: Dev = Dev::new(259, 1);
pub const DM0: Dev = Dev::new(253, 0);
/// pmem1's `dev_pagemap` and `dax_device`, and dm-0's `dax_device`.
pub const PGMAP1: u64 = 0xffff_8880_0520_0000;
pub const DAX_DEV1: u64 = 0xffff_8880_0531_0000;
pub const DAX_DM: u64 = 0xffff_8880_0631_0000;
/// pmem1 follows pmem0 (1.5 GiB to 2 GiB).
pub const PFN1_START: u64 = PFN_END;
pub const PFN1_END: u64 = PFN_END + (PFN_END - PFN_START);
/// The size of each pmem disk.
pub const PMEM_BYTES: u64 = (PFN_END - PFN_START) * 4096;
/// The truncate found waiting at attach, and the file it truncates.
pub const WAITER_TID: u32 = 615;
pub const WAITER_INO: u64 = 77;
/// The sources a 6.1 kernel with BTF offers to root: all of them.
const SOURCES: u32 = state_bits::PAGEMAPS
    | state_bits::DAX_DEVICES
    | state_bits::DAX_HOSTS
    | state_bits::MOUNTS
    | state_bits::DM
    | state_bits::WAITS
    | state_bits::CENSUS;

impl Script {
    fn daxtrace(&mut self, after_us: u64, body: EventBody) {
        self.at(after_us, 999, "daxtrace", USERSPACE_POINT, body);
    }

    /// The state at start, closed by its `state-end`.
    pub(super) fn state_at_start(&mut self) {
        let begin = self.ts_ns;
        let pagemap = |pgmap, pfn_start, pfn_end, bdev, disk: &str, backing: &str| {
            EventBody::StatePagemap(StatePagemap {
                pgmap,
                memory_type: 3,
                fs_dax: true.into(),
                pfn_start,
                pfn_end,
                pages: pfn_end - pfn_start,
                nr_range: 1,
                bdev,
                owner: 0,
                disk: disk.into(),
                backing: backing.into(),
                kind: dax_trace_common::memory::MemoryKind::FsDax.into(),
                driver: "nd_pmem".into(),
                ..Default::default()
            })
        };
        self.daxtrace(
            0,
            pagemap(PGMAP, PFN_START, PFN_END, PMEM0, "pmem0", "namespace0.0"),
        );
        self.daxtrace(
            40,
            pagemap(PGMAP1, PFN1_START, PFN1_END, PMEM1, "pmem1", "namespace1.0"),
        );
        let device = |dax_dev, holder, bdev, disk: &str| {
            EventBody::StateDaxDevice(StateDaxDevice {
                dax_dev,
                holder,
                holder_ops: if holder == 0 {
                    0
                } else {
                    0xffff_ffff_8200_0000
                },
                disk: disk.into(),
                bdev,
                alive: true.into(),
                claims: 1,
                has_holders: true.into(),
                size_bytes: PMEM_BYTES,
                ..Default::default()
            })
        };
        // xfs holds pmem0 with its mount as holder; dm holds pmem1 and ext4
        // holds dm-0, both without one.
        self.daxtrace(200, device(DAX_DEV, XFS_MP, PMEM0, "pmem0"));
        self.daxtrace(30, device(DAX_DEV1, 0, PMEM1, "pmem1"));
        self.daxtrace(30, device(DAX_DM, 0, DM0, "dm-0"));
        self.daxtrace(300, mount(PMEM0, "pmem0", "xfs", "/mnt/xfs", true));
        self.daxtrace(10, mount(DM0, "dm-0", "ext4", "/mnt/ext4", true));
        self.daxtrace(
            400,
            EventBody::StateDmTarget(StateDmTarget {
                dm: DM0,
                member: PMEM1,
                dm_disk: "dm-0".into(),
                dm_name: "daxlin".into(),
                member_disk: "pmem1".into(),
                target: "linear".into(),
                start_sector: 0,
                sectors: PMEM_BYTES / 512,
                member_sector: 0,
                present: true.into(),
                ..Default::default()
            }),
        );
        self.at(
            600,
            WAITER_TID,
            "truncate",
            USERSPACE_POINT,
            EventBody::StateWait(self.wait(false)),
        );
        for i in 0..3u64 {
            let pfn = PFN1_START + 0x200 + i;
            self.daxtrace(
                if i == 0 { 1_500 } else { 2 },
                EventBody::StateBusyPage(StateBusyPage {
                    pgmap: PGMAP1,
                    page: 0xffff_ea00_0180_0000 + (pfn - PFN1_START) * 64,
                    pfn,
                    refcount: 3,
                    mapcount: 1,
                    mapping: 0xffff_8880_0d00_0200,
                    ino: WAITER_INO,
                    dev: DM0,
                    index: Some(i).into(),
                    ..Default::default()
                }),
            );
        }
        let elapsed_ns = self.ts_ns - begin + 40_000;
        self.daxtrace(
            40,
            EventBody::StateEnd(StateEnd {
                reason: 0,
                available: SOURCES,
                pagemaps: 2,
                dax_devices: 3,
                mounts: 2,
                dm_targets: 1,
                waits: 1,
                busy_pages: 3,
                pages_scanned: 2 * (PFN_END - PFN_START),
                pages_total: 2 * (PFN_END - PFN_START),
                elapsed_ns,
                ..Default::default()
            }),
        );
    }

    /// The truncate found at attach, asleep on the first pinned page.
    fn wait(&self, ended: bool) -> StateWait {
        let pfn = PFN1_START + 0x200;
        StateWait {
            page: 0xffff_ea00_0180_0000 + (pfn - PFN1_START) * 64,
            pfn,
            pgmap: PGMAP1,
            ino: WAITER_INO,
            dev: DM0,
            waiter_tid: WAITER_TID,
            index: Some(0).into(),
            refcount: 3,
            slept_ns: if ended { 0 } else { 1_250_000_000 },
            idle: false.into(),
            ended: ended.into(),
            ..StateWait::default()
        }
    }

    /// The wait found at attach ends (the pinning I/O completed).
    pub(super) fn attach_wait_ends(&mut self, after_us: u64) {
        let body = EventBody::StateWait(self.wait(true));
        self.at(after_us, WAITER_TID, "truncate", USERSPACE_POINT, body);
        self.state_update(0, 1);
    }

    /// A mount appeared or went away while running.
    pub(super) fn mount_update(&mut self, fstype: &str, mount_point: &str, mounted: bool) {
        self.daxtrace(50, mount(PMEM0, "pmem0", fstype, mount_point, mounted));
        self.state_update(1, 0);
    }

    fn state_update(&mut self, mounts: u32, waits: u32) {
        self.daxtrace(
            5,
            EventBody::StateEnd(StateEnd {
                reason: 1,
                available: SOURCES,
                mounts,
                waits,
                elapsed_ns: 120_000,
                ..Default::default()
            }),
        );
    }
}

fn mount(dev: Dev, disk: &str, fstype: &str, mount_point: &str, mounted: bool) -> EventBody {
    EventBody::StateMount(StateMount {
        dev,
        mounted: mounted.into(),
        dax: true.into(),
        fstype: fstype.into(),
        disk: disk.into(),
        mount_point: mount_point.into(),
        ..Default::default()
    })
}
