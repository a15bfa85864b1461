//! Pages that leave their file while still busy (`page-orphaned`), when they
//! go idle after (`orphan-idle`), and waiters blocked uninterruptibly on a
//! busy page (`blocked-wait`). The first is the hazard fs-dax exists to
//! prevent: before 6.15 eviction and unmount give the blocks back without
//! waiting for DMA; the last is what 6.15's wait turns it into, a hang.
use super::actor::Actor;
use super::device::{DeviceId, DeviceIdentity};
use super::pins::Ownership;
use super::{Collector, StuckWaitRecord};
use crate::event::{BlockedWait, Dev, Event, OrphanIdle, PageOrphaned};
use dax_trace_common::field::StackId;
use serde::{Deserialize, Serialize};

/// A DAX page whose file let it go while something still held it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanedPage {
    pub device: Option<DeviceId>,
    pub identity: Option<DeviceIdentity>,
    pub dev: Dev,
    pub pgmap: u64,
    pub pfn: u64,
    pub page: u64,
    /// The file's inode number.
    pub ino: u64,
    /// The page's index in the file, in pages.
    pub index: Option<u64>,
    /// `_refcount` when the entry was dropped.
    pub refcount: u64,
    /// The page's place in its entry (of `entry_pages`): the pages before
    /// it were idle.
    pub first_busy: u32,
    pub entry_pages: u32,
    /// The thread that dropped the entry (unlink, umount, truncate), and when.
    pub by: Actor,
    /// Its kernel stack (0: none).
    #[serde(default, skip_serializing_if = "StackId::is_none")]
    pub stack: StackId,
    /// Who held the page: its owners at that moment.
    pub owners: Ownership,
    /// How long the page stayed busy after its file let it go; none while
    /// it is still busy (to the end of the trace).
    pub busy_after_ns: Option<u64>,
}

/// A waiter the scanner found asleep uninterruptibly on a busy page for
/// longer than the stuck threshold: the same fields as a lost wakeup, but
/// the page is busy, not idle.
pub type BlockedWaitRecord = StuckWaitRecord;

/// An orphaned page not yet idle: where its record is, to complete it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOrphan {
    pub pfn: u64,
    pub orphaned_ns: u64,
    pub device: Option<DeviceId>,
}

impl Collector {
    pub(super) fn on_page_orphaned(&mut self, ev: &Event, o: &PageOrphaned) {
        let device = self.device_for_dev(o.dev, ev.ts_ns);
        let identity = device.and_then(|id| {
            let d = self.devices.get_mut(&id)?;
            d.orphaned_pages += 1;
            Some(d.identity.clone())
        });
        let owners = self.ownership(o.pfn);
        self.findings.orphaned_pages.push(OrphanedPage {
            device,
            identity,
            dev: o.dev,
            pgmap: o.pgmap,
            pfn: o.pfn,
            page: o.page,
            ino: o.ino,
            index: o.index.get(),
            refcount: o.refcount,
            first_busy: o.first_busy,
            entry_pages: o.entry_pages,
            by: Actor::of(ev),
            stack: o.stack,
            owners,
            busy_after_ns: None,
        });
        self.open_orphans.insert(
            o.page,
            OpenOrphan {
                pfn: o.pfn,
                orphaned_ns: ev.ts_ns,
                device,
            },
        );
    }

    pub(super) fn on_orphan_idle(&mut self, ev: &Event, i: &OrphanIdle) {
        self.open_orphans.remove(&i.page);
        let after = ev.ts_ns.saturating_sub(i.orphaned_ns);
        if let Some(rec) =
            self.findings.orphaned_pages.examples.iter_mut().find(|r| {
                r.page == i.page && r.by.ts_ns == i.orphaned_ns && r.busy_after_ns.is_none()
            })
        {
            rec.busy_after_ns = Some(after);
        }
        self.close_owners_on_idle(i.pfn, ev.ts_ns);
    }

    pub(super) fn on_blocked_wait(&mut self, ev: &Event, b: &BlockedWait) {
        let device = self.device_for_dev(b.dev, ev.ts_ns);
        let identity = device.and_then(|id| {
            let d = self.devices.get_mut(&id)?;
            d.blocked_waits += 1;
            Some(d.identity.clone())
        });
        let open = self.open_waits.get(&b.waiter_tid);
        let mut owners = self.ownership(b.pfn);
        // A wait found asleep at attach on this page: it was busy before.
        if matches!(owners, Ownership::Unknown | Ownership::NotTraced)
            && open.is_some_and(|w| w.at_attach.as_ref().is_some_and(|a| a.pfn == b.pfn))
        {
            owners = Ownership::PinnedBeforeAttach;
        }
        self.findings.blocked_waits.push(BlockedWaitRecord {
            device,
            identity,
            dev: b.dev,
            pgmap: b.pgmap,
            pfn: b.pfn,
            page: b.page,
            ino: b.ino,
            refcount: b.refcount,
            waiter_tid: b.waiter_tid,
            waiter: open.map(|w| w.begin.clone()),
            at_attach: open.is_some_and(|w| w.at_attach.is_some()),
            wait_begin_ns: b.wait_begin_ns,
            reported_ns: ev.ts_ns,
            owners,
        });
    }

    /// Orphaned pages still busy at the newest event.
    pub fn open_orphans(&self) -> impl Iterator<Item = &OpenOrphan> {
        self.open_orphans.values()
    }
}
