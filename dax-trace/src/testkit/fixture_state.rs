//! Builders of the state-at-start events for tests, on [`Script`]: what a
//! live front end sends when it attaches (userspace events, made by
//! daxtrace, except that a wait's header is its waiter's).
use super::fixture::Script;
use crate::event::{
    Dev, EventBody, StateBusyPage, StateDaxDevice, StateDmTarget, StateEnd, StateMount,
    StatePagemap, StateWait, StuckWait, USERSPACE_POINT,
};
use dax_trace_common::payload::state_bits;

/// Every source of the state readable (a 6.1+ kernel with BTF and root).
pub const ALL_SOURCES: u32 = state_bits::PAGEMAPS
    | state_bits::DAX_DEVICES
    | state_bits::DAX_HOSTS
    | state_bits::MOUNTS
    | state_bits::DM
    | state_bits::WAITS
    | state_bits::CENSUS;

/// 512 MiB in pages and bytes.
pub const PMEM0_PAGES: u64 = 0x20000;
pub const PMEM0_BYTES: u64 = 512 << 20;

impl Script {
    /// A state at start being read at t = 20 s: pmem0 (512 MiB, FS-DAX) with
    /// xfs mounted on /mnt/x (its mount is the holder); not closed yet.
    pub fn xfs_mounted_at_start() -> Script {
        use super::fixture::{DAX0, PGMAP0, PMEM0, XFS_MOUNT};
        let mut s = Script {
            ts_ns: 20_000_000_000,
            ..Script::default()
        };
        s.state_pagemap(PGMAP0, 0x40000, PMEM0_PAGES, PMEM0, "pmem0", "namespace0.0")
            .state_dax(DAX0, PMEM0, "pmem0", XFS_MOUNT, 1, true)
            .state_mount(PMEM0, "pmem0", "xfs", "/mnt/x", true);
        s
    }

    /// [`Script::xfs_mounted_at_start`], closed: the whole state at start.
    pub fn xfs_mounted_before() -> Script {
        let mut s = Script::xfs_mounted_at_start();
        s.state_end(0, ALL_SOURCES);
        s
    }

    /// Pushes a userspace event as `pid`/`comm` (daxtrace unless a waiter).
    fn userspace(&mut self, pid: u32, comm: &str, body: EventBody) -> &mut Self {
        let (old_pid, old_comm) = (self.pid, self.comm);
        self.pid = pid;
        self.comm = comm.into();
        self.push(body);
        if let Some(e) = self.events.last_mut() {
            e.point = USERSPACE_POINT;
        }
        self.pid = old_pid;
        self.comm = old_comm;
        self
    }

    fn daxtrace(&mut self, body: EventBody) -> &mut Self {
        self.userspace(999, "daxtrace", body)
    }

    /// An FS-DAX pagemap of `pages` pages from `pfn_start`, on `disk`.
    pub fn state_pagemap(
        &mut self,
        pgmap: u64,
        pfn_start: u64,
        pages: u64,
        bdev: Dev,
        disk: &str,
        backing: &str,
    ) -> &mut Self {
        self.daxtrace(EventBody::StatePagemap(StatePagemap {
            pgmap,
            memory_type: 3,
            fs_dax: true.into(),
            pfn_start,
            pfn_end: pfn_start + pages,
            pages,
            nr_range: 1,
            bdev,
            owner: 0,
            disk: disk.into(),
            backing: backing.into(),
            ..Default::default()
        }))
    }

    /// A live dax_device with `claims` claims, `holder` its holder_data.
    pub fn state_dax(
        &mut self,
        dax_dev: u64,
        bdev: Dev,
        disk: &str,
        holder: u64,
        claims: u32,
        has_holders: bool,
    ) -> &mut Self {
        self.daxtrace(EventBody::StateDaxDevice(StateDaxDevice {
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
            claims,
            has_holders: has_holders.into(),
            size_bytes: PMEM0_BYTES,
            ..Default::default()
        }))
    }

    pub fn state_mount(
        &mut self,
        dev: Dev,
        disk: &str,
        fstype: &str,
        mount_point: &str,
        mounted: bool,
    ) -> &mut Self {
        self.daxtrace(EventBody::StateMount(StateMount {
            dev,
            mounted: mounted.into(),
            dax: true.into(),
            fstype: fstype.into(),
            disk: disk.into(),
            mount_point: mount_point.into(),
            ..Default::default()
        }))
    }

    /// Whether DAX is in effect on the mount of `dev`: `dax_files` of
    /// `sampled` regular files are DAX.
    pub fn state_dax_mode(
        &mut self,
        dev: Dev,
        mount_point: &str,
        asked: crate::daxmode::Asked,
        sampled: u32,
        dax_files: u32,
    ) -> &mut Self {
        self.daxtrace(EventBody::StateDaxMode(crate::event::StateDaxMode {
            dev,
            asked: asked.code(),
            reported: true.into(),
            sampled,
            dax_files,
            mount_point: mount_point.into(),
            ..Default::default()
        }))
    }

    /// A linear target of `dm_disk` over `member_disk`.
    #[allow(clippy::too_many_arguments)]
    pub fn state_dm(
        &mut self,
        dm: Dev,
        dm_disk: &str,
        dm_name: &str,
        member: Dev,
        member_disk: &str,
        start_sector: u64,
        sectors: u64,
        present: bool,
    ) -> &mut Self {
        self.daxtrace(EventBody::StateDmTarget(StateDmTarget {
            dm,
            member,
            dm_disk: dm_disk.into(),
            dm_name: dm_name.into(),
            member_disk: member_disk.into(),
            target: "linear".into(),
            start_sector,
            sectors,
            member_sector: 2048,
            present: present.into(),
            ..Default::default()
        }))
    }

    /// Waiter `tid` (`comm`) asleep on `pfn` of file `ino` for `slept_ns`.
    #[allow(clippy::too_many_arguments)]
    pub fn state_wait(
        &mut self,
        tid: u32,
        comm: &str,
        pgmap: u64,
        pfn: u64,
        dev: Dev,
        ino: u64,
        slept_ns: u64,
        ended: bool,
    ) -> &mut Self {
        self.userspace(
            tid,
            comm,
            EventBody::StateWait(StateWait {
                page: 0xffff_ea00_0000_0000 + pfn * 64,
                pfn,
                pgmap,
                ino,
                dev,
                waiter_tid: tid,
                index: Some(7).into(),
                refcount: 2,
                slept_ns,
                idle: false.into(),
                ended: ended.into(),
                ..StateWait::default()
            }),
        )
    }

    pub fn state_busy(
        &mut self,
        pgmap: u64,
        pfn: u64,
        dev: Dev,
        ino: u64,
        index: u64,
        refcount: u64,
    ) -> &mut Self {
        self.daxtrace(EventBody::StateBusyPage(StateBusyPage {
            pgmap,
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            refcount,
            mapcount: 1,
            mapping: 0xffff_0000_0000_0000 | ino,
            ino,
            dev,
            index: Some(index).into(),
            ..Default::default()
        }))
    }

    /// Closes a reading (reason 0: the state at start; 1: an update).
    pub fn state_end(&mut self, reason: u32, available: u32) -> &mut Self {
        let count =
            |f: fn(&EventBody) -> bool| self.events.iter().filter(|e| f(&e.body)).count() as u32;
        let body = StateEnd {
            reason,
            available,
            pagemaps: count(|b| matches!(b, EventBody::StatePagemap(_))),
            dax_devices: count(|b| matches!(b, EventBody::StateDaxDevice(_))),
            mounts: count(|b| matches!(b, EventBody::StateMount(_))),
            dm_targets: count(|b| matches!(b, EventBody::StateDmTarget(_))),
            waits: count(|b| matches!(b, EventBody::StateWait(_))),
            busy_pages: u64::from(count(|b| matches!(b, EventBody::StateBusyPage(_)))),
            pages_scanned: PMEM0_PAGES,
            pages_total: PMEM0_PAGES,
            elapsed_ns: 3_000_000,
            ..Default::default()
        };
        self.daxtrace(EventBody::StateEnd(body))
    }

    /// A stuck wait reported by userspace on a wait found at attach: the
    /// header is the waiter's.
    #[allow(clippy::too_many_arguments)]
    pub fn stuck_at_attach(
        &mut self,
        tid: u32,
        comm: &str,
        pgmap: u64,
        pfn: u64,
        dev: Dev,
        ino: u64,
        since_ns: u64,
    ) -> &mut Self {
        self.userspace(
            tid,
            comm,
            EventBody::StuckWait(StuckWait {
                page: 0xffff_ea00_0000_0000 + pfn * 64,
                pfn,
                refcount: 1,
                wait_begin_ns: since_ns,
                ino,
                dev,
                waiter_tid: tid,
                pgmap,
            }),
        )
    }
}
