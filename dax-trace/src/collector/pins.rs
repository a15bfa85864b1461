//! Who pinned a page: the owners of FS-DAX pages (tasks that took references
//! through get_user_pages / pin_user_pages, reported by `pin-owner` when a
//! busy page they hold is first met), their releases, and long-term pins the
//! kernel refused on FS-DAX memory.
//!
//! Owners are kept per pfn: the open ones, and the last few closed ones,
//! because a waiter stuck on a page that already went idle (the 6.1 lost
//! wakeup) must still name the thread whose pin made it wait.
use super::Collector;
use crate::comm::Comm;
use crate::event::{Dev, Event, PinOwner, PinRelease, RefusedPin};
use dax_trace_common::field::StackId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Closed owners remembered per page.
const CLOSED_PER_PAGE: usize = 4;

/// One task that took references on a page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinOwnerRecord {
    pub pfn: u64,
    pub page: u64,
    pub pgmap: u64,
    pub pid: u32,
    pub tid: u32,
    pub comm: Comm,
    /// The gup entry point it pinned through (`pin_user_pages_fast`).
    pub entry: String,
    /// When it took the oldest reference it still held when reported.
    pub since_ns: u64,
    /// When the kernel reported it.
    pub reported_ns: u64,
    pub refs: u32,
    /// FOLL_PIN (`pin_user_pages*`) rather than FOLL_GET.
    pub pin: bool,
    /// The pages belong to another process's mm.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remote: bool,
    /// Its kernel stack when it took the first reference (0: none).
    #[serde(default, skip_serializing_if = "StackId::is_none")]
    pub stack: StackId,
    /// When it stopped holding the page; `None` while it still does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released: Option<PinReleaseRecord>,
}

/// How an owner stopped holding its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinReleaseRecord {
    pub ts_ns: u64,
    /// The page went idle (every owner closed at once), rather than a put
    /// of this owner's own references.
    pub by_idle: bool,
}

impl PinOwnerRecord {
    pub fn is_open(&self) -> bool {
        self.released.is_none()
    }
}

/// The owners of one page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageOwners {
    pub open: Vec<PinOwnerRecord>,
    /// The last closed ones, oldest first.
    pub closed: Vec<PinOwnerRecord>,
    /// Last change, for eviction.
    #[serde(skip)]
    touched_ns: u64,
}

/// What is known of who holds (or held) a page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ownership {
    /// Owners reported since attach: the open ones, or when none is open
    /// the last ones that closed (newest first).
    Owners { owners: Vec<PinOwnerRecord> },
    /// The page was already busy when the trace began (the census of the
    /// state at start) and no owner was reported since.
    PinnedBeforeAttach,
    /// No owner reported: not pinned through a traced gup entry point since
    /// attach.
    Unknown,
    /// The trace reports no owner of any page (no pin kind at all: a trace
    /// recorded before owners existed, or without the gup entry points):
    /// nothing can be said, and front ends say nothing.
    NotTraced,
}

impl Ownership {
    /// Whether there is something to say about the owner.
    pub fn is_told(&self) -> bool {
        *self != Ownership::NotTraced
    }
}

/// Refused long-term pins of one process on one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedPinGroup {
    pub pid: u32,
    /// The newest asking thread and its comm.
    pub tid: u32,
    pub comm: Comm,
    /// The file mapped at the start address (empty when unknown); how
    /// much of its path this is: `path_from`.
    pub path: String,
    /// The file's device and inode, as the kernel read them at the
    /// refusal (0: not named by the kernel).
    #[serde(default)]
    pub dev: Dev,
    #[serde(default)]
    pub ino: u64,
    /// Who named the file (`dax_trace_common::payload::path_from`).
    #[serde(default)]
    pub path_from: u32,
    /// Pages asked for by the newest refusal.
    pub nr_pages: u64,
    pub gup_flags: u32,
    pub ret: i32,
    pub pin: bool,
    #[serde(default, skip_serializing_if = "StackId::is_none")]
    pub stack: StackId,
    /// The entry point of the newest refusal.
    pub entry: String,
    pub count: u64,
    pub first_ns: u64,
    pub last_ns: u64,
}

/// Owners per pfn and refused pins, bounded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pins {
    pages: HashMap<u64, PageOwners>,
    refused: Vec<RefusedPinGroup>,
    /// Refusals whose (pid, path) group found no room.
    pub refused_ungrouped: u64,
    pub owners_reported: u64,
    pub releases: u64,
    /// Releases naming no reported owner.
    pub releases_unmatched: u64,
    /// Pages dropped to respect the bound.
    pub pages_evicted: u64,
}

/// The name of a point (a gup entry point for pin kinds).
pub fn entry_name(point: u16) -> String {
    dax_trace_common::probe::POINTS
        .get(usize::from(point))
        .map_or_else(|| format!("point {point}"), |p| p.target.to_string())
}

impl Pins {
    /// The owners of a pfn, as kept.
    pub fn page(&self, pfn: u64) -> Option<&PageOwners> {
        self.pages.get(&pfn)
    }

    /// Every open owner, by pfn then since.
    pub fn open_owners(&self) -> Vec<&PinOwnerRecord> {
        let mut v: Vec<&PinOwnerRecord> = self.pages.values().flat_map(|p| &p.open).collect();
        v.sort_by_key(|o| (o.pfn, o.since_ns, o.tid));
        v
    }

    /// Every closed owner kept, in release order.
    pub fn closed_owners(&self) -> Vec<&PinOwnerRecord> {
        let mut v: Vec<&PinOwnerRecord> = self.pages.values().flat_map(|p| &p.closed).collect();
        v.sort_by_key(|o| (o.released.as_ref().map_or(0, |r| r.ts_ns), o.pfn, o.tid));
        v
    }

    /// Refused long-term pins per (pid, path), first seen first.
    pub fn refused(&self) -> &[RefusedPinGroup] {
        &self.refused
    }

    /// The trace reported owners, releases or refused pins: the gup entry
    /// points were traced.
    pub fn is_traced(&self) -> bool {
        self.owners_reported > 0 || self.releases > 0 || self.refused_total() > 0
    }

    /// Refused long-term pins in all.
    pub fn refused_total(&self) -> u64 {
        self.refused.iter().map(|g| g.count).sum::<u64>() + self.refused_ungrouped
    }

    fn add_owner(&mut self, owner: PinOwnerRecord, cap: usize) {
        let pfn = owner.pfn;
        if !self.pages.contains_key(&pfn) {
            self.evict_for_one(cap);
        }
        let page = self.pages.entry(pfn).or_default();
        page.touched_ns = owner.reported_ns;
        // A second report of the same task on the same page replaces the first.
        page.open
            .retain(|o| !(o.tid == owner.tid && o.pid == owner.pid));
        page.open.push(owner);
    }

    fn close(page: &mut PageOwners, at: usize, release: PinReleaseRecord) {
        let mut owner = page.open.remove(at);
        owner.released = Some(release);
        page.closed.push(owner);
        if page.closed.len() > CLOSED_PER_PAGE {
            page.closed.remove(0);
        }
    }

    /// Closes the owner `tid`/`pid` of `pfn`, or every owner with `all`.
    /// Returns how many closed.
    fn release(&mut self, pfn: u64, who: Option<(u32, u32)>, rel: PinReleaseRecord) -> usize {
        let Some(page) = self.pages.get_mut(&pfn) else {
            return 0;
        };
        page.touched_ns = rel.ts_ns;
        let mut closed = 0;
        while let Some(at) = page
            .open
            .iter()
            .position(|o| who.is_none_or(|(pid, tid)| o.pid == pid && o.tid == tid))
        {
            Self::close(page, at, rel.clone());
            closed += 1;
        }
        closed
    }

    /// Makes room for one more page: pages with no open owner go first,
    /// oldest change first.
    fn evict_for_one(&mut self, cap: usize) {
        let cap = cap.max(1);
        while self.pages.len() >= cap {
            let victim = self
                .pages
                .iter()
                .min_by_key(|(pfn, p)| (!p.open.is_empty(), p.touched_ns, **pfn))
                .map(|(pfn, _)| *pfn);
            match victim {
                Some(pfn) => {
                    self.pages.remove(&pfn);
                    self.pages_evicted += 1;
                }
                None => break,
            }
        }
    }

    fn refuse(&mut self, ev: &Event, r: &RefusedPin, cap: usize) {
        let path = r.path.as_str();
        if let Some(g) = self
            .refused
            .iter_mut()
            .find(|g| g.pid == ev.pid && g.path == path)
        {
            g.count += 1;
            g.last_ns = ev.ts_ns;
            g.tid = ev.tid;
            g.comm = ev.comm;
            g.nr_pages = r.nr_pages;
            g.gup_flags = r.gup_flags;
            g.ret = r.ret;
            g.pin = r.pin.get();
            g.entry = entry_name(ev.point);
            if !r.stack.is_none() {
                g.stack = r.stack;
            }
            return;
        }
        if self.refused.len() >= cap.max(1) {
            self.refused_ungrouped += 1;
            return;
        }
        self.refused.push(RefusedPinGroup {
            pid: ev.pid,
            tid: ev.tid,
            comm: ev.comm,
            path: path.to_string(),
            dev: r.dev,
            ino: r.ino,
            path_from: r.path_from,
            nr_pages: r.nr_pages,
            gup_flags: r.gup_flags,
            ret: r.ret,
            pin: r.pin.get(),
            stack: r.stack,
            entry: entry_name(ev.point),
            count: 1,
            first_ns: ev.ts_ns,
            last_ns: ev.ts_ns,
        });
    }
}

impl Collector {
    pub(super) fn on_pin_owner(&mut self, ev: &Event, o: &PinOwner) {
        self.pins.owners_reported += 1;
        let owner = PinOwnerRecord {
            pfn: o.pfn,
            page: o.page,
            pgmap: o.pgmap,
            pid: ev.pid,
            tid: ev.tid,
            comm: ev.comm,
            entry: entry_name(ev.point),
            since_ns: o.since_ns,
            reported_ns: ev.ts_ns,
            refs: o.refs,
            pin: o.pin.get(),
            remote: o.remote.get(),
            stack: o.stack,
            released: None,
        };
        let cap = self.config.max_busy_pages;
        self.pins.add_owner(owner, cap);
    }

    pub(super) fn on_pin_release(&mut self, ev: &Event, r: &PinRelease) {
        self.pins.releases += 1;
        let by_idle = r.by_idle.get();
        let who = (!by_idle).then_some((r.owner_pid, r.owner_tid));
        let rel = PinReleaseRecord {
            ts_ns: ev.ts_ns,
            by_idle,
        };
        if self.pins.release(r.pfn, who, rel) == 0 {
            self.pins.releases_unmatched += 1;
        }
    }

    pub(super) fn on_refused_pin(&mut self, ev: &Event, r: &RefusedPin) {
        let cap = self.config.examples;
        self.pins.refuse(ev, r, cap);
    }

    /// A page went idle: every owner of it closes.
    pub(super) fn close_owners_on_idle(&mut self, pfn: u64, ts_ns: u64) {
        let rel = PinReleaseRecord {
            ts_ns,
            by_idle: true,
        };
        self.pins.release(pfn, None, rel);
    }

    /// Page owners and refused pins.
    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// Who holds or held `pfn`: the open owners, else the last closed ones,
    /// else whether the page was busy at start.
    pub fn ownership(&self, pfn: u64) -> Ownership {
        self.ownership_during(pfn, 0, u64::MAX)
    }

    /// Who held `pfn` at some time between `from_ns` and `to_ns` (a wait):
    /// the owners still holding it at `to_ns`, else those that released it
    /// in between (newest first), else whether it was busy at start.
    pub fn ownership_during(&self, pfn: u64, from_ns: u64, to_ns: u64) -> Ownership {
        if let Some(page) = self.pins.page(pfn) {
            let all = || page.open.iter().chain(&page.closed);
            let held = |o: &&PinOwnerRecord| {
                o.since_ns <= to_ns && o.released.as_ref().is_none_or(|r| r.ts_ns >= from_ns)
            };
            let still = |o: &&PinOwnerRecord| o.released.as_ref().is_none_or(|r| r.ts_ns > to_ns);
            let mut owners: Vec<PinOwnerRecord> =
                all().filter(held).filter(still).cloned().collect();
            if !owners.is_empty() {
                owners.sort_by_key(|o| (o.since_ns, o.tid));
                return Ownership::Owners { owners };
            }
            let mut owners: Vec<PinOwnerRecord> = page
                .closed
                .iter()
                .filter(held)
                .filter(|o| !still(o))
                .cloned()
                .collect();
            if !owners.is_empty() {
                owners.sort_by_key(|o| {
                    std::cmp::Reverse((o.released.as_ref().map_or(0, |r| r.ts_ns), o.tid))
                });
                return Ownership::Owners { owners };
            }
        }
        // Pfns are unique across pagemaps.
        let at_start = self
            .pagemaps
            .values()
            .any(|p| p.busy_at_start.iter().any(|b| b.pfn == pfn));
        if at_start {
            Ownership::PinnedBeforeAttach
        } else if self.pins.is_traced() {
            Ownership::Unknown
        } else {
            Ownership::NotTraced
        }
    }
}
