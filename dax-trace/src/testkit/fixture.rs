//! Event builders for tests: short readable scenarios instead of raw structs.
use crate::event::{
    BlockedWait, BusyPage, Claim, Drops, Fault, FaultCounts, OrphanIdle, PageIdle, PageOrphaned,
    PagemapCreate, PagemapDestroy, PinOwner, PinRelease, PmemFlush, RefusedPin, Release, StuckWait,
    WaitBegin, WaitEnd,
};
use crate::event::{ClaimApi, Dev, Event, EventBody, USERSPACE_POINT, WaitApi};
use dax_trace_common::field::OptU64;
use dax_trace_common::field::StackId;

pub const PMEM0: Dev = Dev::new(259, 0);
pub const DM0: Dev = Dev::new(253, 0);
pub const DAX0: u64 = 0xffff_8880_0000_1000;
pub const DAXDM: u64 = 0xffff_8880_0000_3000;
pub const PGMAP0: u64 = 0xffff_8880_0001_0000;
pub const XFS_MOUNT: u64 = 0xffff_8880_00aa_0000;
pub const XFS_MOUNT2: u64 = 0xffff_8880_00bb_0000;

/// Builds events with increasing timestamps (1 ms apart by default).
pub struct Script {
    pub ts_ns: u64,
    pub pid: u32,
    pub comm: crate::comm::Comm,
    pub events: Vec<Event>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            ts_ns: 1_000_000_000,
            pid: 100,
            comm: "mount".into(),
            events: Vec::new(),
        }
    }
}

impl Script {
    pub fn by(&mut self, pid: u32, comm: &str) -> &mut Self {
        self.pid = pid;
        self.comm = comm.into();
        self
    }

    pub fn push(&mut self, body: EventBody) -> &mut Self {
        self.ts_ns += 1_000_000;
        self.events.push(Event {
            ts_ns: self.ts_ns,
            cpu: 0,
            pid: self.pid,
            tid: self.pid,
            comm: self.comm,
            point: 0,
            body,
        });
        self
    }

    pub fn pagemap(&mut self, pgmap: u64, pfn_start: u64, pfn_end: u64) -> &mut Self {
        self.push(EventBody::PagemapCreate(PagemapCreate {
            pgmap,
            memory_type: 3,
            fs_dax: true.into(),
            pfn_start,
            pfn_end,
            nr_range: 1,
            owner: 0,
            ret: 0,
            ..Default::default()
        }))
    }

    /// A pagemap born of `driver` on device-dax device `device`, of `kind`
    /// (numbered as 6.1+ does: FS_DAX 3, GENERIC 4).
    pub fn devdax_pagemap(
        &mut self,
        pgmap: u64,
        pfns: (u64, u64),
        kind: dax_trace_common::memory::MemoryKind,
        device: &str,
        driver: &str,
    ) -> &mut Self {
        use dax_trace_common::memory::MemoryKind;
        let fs_dax = kind == MemoryKind::FsDax;
        self.push(EventBody::PagemapCreate(PagemapCreate {
            pgmap,
            memory_type: if fs_dax { 3 } else { 4 },
            fs_dax: fs_dax.into(),
            pfn_start: pfns.0,
            pfn_end: pfns.1,
            nr_range: 1,
            kind: kind.into(),
            device: device.into(),
            driver: driver.into(),
            ..Default::default()
        }))
    }

    pub fn pagemap_gone(&mut self, pgmap: u64) -> &mut Self {
        self.push(EventBody::PagemapDestroy(PagemapDestroy { pgmap }))
    }

    pub fn claim(&mut self, dax_dev: u64, holder: u64, bdev: Dev, disk: &str) -> &mut Self {
        self.push(EventBody::Claim(Claim {
            dax_dev,
            holder,
            holder_ops: 0,
            bdev,
            disk: disk.into(),
            granted: true.into(),
            api: ClaimApi::FsDaxGetByBdev.into(),
            start_off: 0,
            ..Default::default()
        }))
    }

    pub fn refused(&mut self, holder: u64, bdev: Dev, disk: &str) -> &mut Self {
        self.push(EventBody::Claim(Claim {
            dax_dev: 0,
            holder,
            holder_ops: 0,
            bdev,
            disk: disk.into(),
            granted: false.into(),
            api: ClaimApi::FsDaxGetByBdev.into(),
            start_off: 0,
            ..Default::default()
        }))
    }

    pub fn release(&mut self, dax_dev: u64, holder: u64) -> &mut Self {
        self.push(EventBody::Release(Release {
            dax_dev,
            holder,
            api: if holder == 0 {
                ClaimApi::PutDax.into()
            } else {
                ClaimApi::FsPutDax.into()
            },
            holder_before: holder,
            ..Default::default()
        }))
    }

    pub fn busy(&mut self, pgmap: u64, pfn: u64, dev: Dev, ino: u64) -> &mut Self {
        self.push(EventBody::BusyPage(BusyPage {
            mapping: 0xffff_0000_0000_0000 | ino,
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            ino,
            dev,
            pgmap,
            refcount: 2,
            index: None.into(),
            ..Default::default()
        }))
    }

    pub fn idle(&mut self, pgmap: u64, pfn: u64) -> &mut Self {
        self.push(EventBody::PageIdle(PageIdle {
            pgmap,
            pfn,
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            refcount: 1,
        }))
    }

    pub fn wait_begin(&mut self, dev: Dev, ino: u64) -> &mut Self {
        self.push(EventBody::WaitBegin(WaitBegin {
            inode: 0xffff_0000_0000_0000 | ino,
            ino,
            dev,
            api: WaitApi::Ext4BreakLayouts.into(),
            ..Default::default()
        }))
    }

    pub fn wait_end(
        &mut self,
        dev: Dev,
        ino: u64,
        latency_ns: u64,
        busy_pfn: Option<u64>,
    ) -> &mut Self {
        self.push(EventBody::WaitEnd(WaitEnd {
            inode: 0xffff_0000_0000_0000 | ino,
            ino,
            dev,
            api: WaitApi::Ext4BreakLayouts.into(),
            latency_ns,
            ret: 0,
            busy_pfn: busy_pfn.into(),
            busy_hits: 1,
        }))
    }

    pub fn stuck(
        &mut self,
        pgmap: u64,
        pfn: u64,
        dev: Dev,
        ino: u64,
        waiter_tid: u32,
    ) -> &mut Self {
        // The waiter's own wait-begin, when the script has one.
        let wait_begin_ns = self
            .events
            .iter()
            .rev()
            .find(|e| e.tid == waiter_tid && matches!(e.body, EventBody::WaitBegin(_)))
            .map_or(self.ts_ns.saturating_sub(1_000_000_000), |e| e.ts_ns);
        self.push(EventBody::StuckWait(StuckWait {
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            refcount: 1,
            wait_begin_ns,
            ino,
            dev,
            waiter_tid,
            pgmap,
        }))
    }

    /// The current task lets `pfn` (index 0 of inode `ino`) go while busy.
    pub fn orphaned(&mut self, pgmap: u64, pfn: u64, dev: Dev, ino: u64) -> &mut Self {
        self.push(EventBody::PageOrphaned(PageOrphaned {
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            pgmap,
            mapping: 0xffff_8880_0c00_0000 + ino,
            ino,
            dev,
            first_busy: 0,
            index: OptU64(0),
            refcount: 2,
            entry_pages: 1,
            stack: StackId::NONE,
        }))
    }

    /// The orphaned `pfn` went idle; `orphaned_ns` is when it was let go.
    pub fn orphan_idle(&mut self, pfn: u64, dev: Dev, ino: u64, orphaned_ns: u64) -> &mut Self {
        self.push(EventBody::OrphanIdle(OrphanIdle {
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            orphaned_ns,
            refcount: 1,
            ino,
            dev,
            orphaner_tid: 0,
        }))
    }

    /// An eviction wait of `waiter_tid` still blocked on busy `pfn`.
    pub fn blocked(
        &mut self,
        pgmap: u64,
        pfn: u64,
        dev: Dev,
        ino: u64,
        waiter_tid: u32,
    ) -> &mut Self {
        let wait_begin_ns = self.ts_ns.saturating_sub(1_000_000_000);
        self.push(EventBody::BlockedWait(BlockedWait {
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            refcount: 1,
            wait_begin_ns,
            ino,
            dev,
            waiter_tid,
            pgmap,
        }))
    }

    pub fn fault(&mut self, dev: Dev, pmd: bool) -> &mut Self {
        self.push(EventBody::Fault(Fault {
            dev,
            ino: 12,
            address: 0x7f00_0000_0000,
            pgoff: 0,
            result: 0x100,
            pmd: pmd.into(),
            ..Default::default()
        }))
    }

    /// `count` faults of `dev` counted in the kernel (what a recording
    /// without `--fault-events` has instead of `fault` records), with the
    /// result `fault` gives its records.
    pub fn fault_counts(&mut self, dev: Dev, pmd: bool, count: u64) -> &mut Self {
        self.push(EventBody::FaultCounts(FaultCounts {
            dev,
            pmd: pmd.into(),
            result: 0x100,
            count,
            ..Default::default()
        }));
        if let Some(e) = self.events.last_mut() {
            e.point = USERSPACE_POINT;
        }
        self
    }

    /// A virtio-pmem flush of `dev`'s region that took `latency_ns`.
    pub fn flush(&mut self, dev: Dev, latency_ns: u64, ret: i32) -> &mut Self {
        self.push(EventBody::PmemFlush(PmemFlush {
            region: 0xffff_8880_0777_0000,
            latency_ns,
            dev,
            ret,
        }))
    }

    pub fn drops(&mut self, point: u16, total: u64) -> &mut Self {
        self.losses(point, dax_trace_common::Loss::RingFull, total)
    }

    /// A `Drops` event of `point` for another reason than a full ring.
    pub fn losses(&mut self, point: u16, reason: dax_trace_common::Loss, total: u64) -> &mut Self {
        let pid = self.pid;
        self.pid = 0;
        self.push(EventBody::Drops(Drops {
            point,
            reason: reason as u16,
            total,
            ..Default::default()
        }));
        if let Some(e) = self.events.last_mut() {
            e.point = USERSPACE_POINT;
        }
        self.pid = pid;
        self
    }

    /// A `pin-owner` report by the current task (pid = tid) of `pfn`,
    /// pinned through `point` at `since_ns` with stack `stack`.
    pub fn pin_owner(
        &mut self,
        pgmap: u64,
        pfn: u64,
        point: u16,
        since_ns: u64,
        stack: u32,
    ) -> &mut Self {
        self.push(EventBody::PinOwner(PinOwner {
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            pgmap,
            since_ns,
            refs: 1,
            pin: true.into(),
            stack: StackId(stack),
            remote: false.into(),
        }));
        if let Some(e) = self.events.last_mut() {
            e.point = point;
        }
        self
    }

    /// A `pin-release` of the owner `owner_tid` (pid = tid) of `pfn`, put by
    /// the current task.
    pub fn pin_release(
        &mut self,
        pfn: u64,
        owner_tid: u32,
        since_ns: u64,
        by_idle: bool,
    ) -> &mut Self {
        self.push(EventBody::PinRelease(PinRelease {
            page: 0xffff_ea00_0000_0000 + pfn * 64,
            pfn,
            since_ns,
            owner_pid: owner_tid,
            owner_tid,
            pin: true.into(),
            by_idle: by_idle.into(),
        }))
    }

    /// A refused long-term pin of `nr_pages` at a mapping of `path` by the
    /// current task, through `pin_user_pages_fast`.
    pub fn refused_pin(&mut self, path: &str, nr_pages: u64, stack: u32) -> &mut Self {
        self.push(EventBody::RefusedPin(RefusedPin {
            start: 0x7f10_0000_0000,
            nr_pages,
            gup_flags: 0x0104_0000,
            ret: -95,
            stack: StackId(stack),
            pin: true.into(),
            path: path.into(),
            ..Default::default()
        }));
        if let Some(e) = self.events.last_mut() {
            e.point = dax_trace_common::probe::idx::PIN_USER_PAGES_FAST;
        }
        self
    }

    /// A refused pin as the kernel names it at the refusal: `path` (what
    /// `path_from` says it is), the file's inode `ino` on 259:0.
    pub fn refused_pin_named(&mut self, path: &str, path_from: u32, ino: u64) -> &mut Self {
        self.refused_pin(path, 16, 0);
        if let Some(Event {
            body: EventBody::RefusedPin(r),
            ..
        }) = self.events.last_mut()
        {
            r.dev = Dev::new(259, 0);
            r.path_from = path_from;
            r.ino = ino;
        }
        self
    }

    pub fn build(&self) -> Vec<Event> {
        self.events.clone()
    }
}
