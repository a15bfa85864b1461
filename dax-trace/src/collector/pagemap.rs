//! Per-`dev_pagemap` state: identity, busy pages, idle transitions, puts.
use super::actor::Actor;
use crate::event::Dev;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};

use super::device::DeviceId;
use dax_trace_common::memory::MemoryKind;

/// What `memremap_pages` told about a pagemap. `None` fields: the pagemap
/// was only seen in page events (created before the trace began).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagemapIdentity {
    pub pgmap: u64,
    pub memory_type: Option<u32>,
    /// `memory_type` as a kind that means the same on every kernel
    /// (`None`: not told, e.g. a trace recorded before kinds were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<MemoryKind>,
    pub fs_dax: Option<bool>,
    /// First pfn and end pfn (exclusive).
    pub pfn_range: Option<(u64, u64)>,
    pub nr_range: Option<u32>,
    pub owner: u64,
    /// Pages over all ranges (from the state at start; `pfn_range` is only
    /// the first range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u64>,
    /// The block device whose namespace holds the range (`pmem0`), from the state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub disk: String,
    /// The nvdimm namespace or device-dax device behind it (`namespace0.0`,
    /// `dax0.0`), from the state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub backing: String,
    /// The driver bound to `backing` when the pagemap was born or read
    /// (`device_dax`, `fsdev_dax`, `nd_pmem`), from sysfs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
}

impl PagemapIdentity {
    /// What the pagemap maps, as users read it: its kind (`fs-dax`,
    /// `generic`; `memory type N` when only the raw number is known), its
    /// size and the driver that made it, e.g. `generic, 502 MiB, dax0.0
    /// (device_dax)`. Parts not known are left out; `None` when none is.
    pub fn describe(&self) -> Option<String> {
        let kind = match (self.kind, self.fs_dax, self.memory_type) {
            (Some(k), _, _) if k != MemoryKind::Unknown => Some(k.name().to_string()),
            (_, Some(true), _) => Some(MemoryKind::FsDax.name().to_string()),
            (_, _, Some(t)) => Some(format!("memory type {t}")),
            _ => None,
        };
        let size = self
            .page_count()
            .map(|pages| crate::human::bytes(pages * 4096));
        let owner = match (self.backing.as_str(), self.driver.as_str()) {
            ("", "") => None,
            (dev, "") => Some(dev.to_string()),
            ("", drv) => Some(format!("driver {drv}")),
            (dev, drv) => Some(format!("{dev} ({drv})")),
        };
        let parts: Vec<String> = [kind, size, owner].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Pages of the pagemap, when known.
    pub fn page_count(&self) -> Option<u64> {
        self.pages
            .or_else(|| self.pfn_range.map(|(s, e)| e.saturating_sub(s)))
    }
}

/// Most earlier lives kept per pagemap pointer (see [`PagemapState::earlier`]).
pub const MAX_EARLIER_LIVES: usize = 8;

/// An earlier life of a pagemap pointer: the same `struct dev_pagemap`
/// dies and is born again when a device-dax device is rebound (its
/// pagemap is static, owned by the device, whichever driver maps it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagemapLife {
    /// What it was then (`generic, 512 MiB, dax0.0 (device_dax)`).
    pub what: String,
    pub kind: Option<MemoryKind>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub created_ns: Option<u64>,
    pub destroyed_ns: Option<u64>,
}

/// A page found busy (referenced beyond the kernel's idle rule) by the
/// census of the state at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartBusyPage {
    pub pfn: u64,
    pub page: u64,
    pub refcount: u64,
    /// `_mapcount + 1` (page-table mappings).
    pub mapcount: i64,
    pub mapping: u64,
    pub ino: u64,
    /// The filesystem's device.
    pub dev: Dev,
    /// The page's index in its file.
    pub index: Option<u64>,
    /// When it went idle during the trace (kept: a stuck wait on it was
    /// made by a reference taken before attach); `None` while busy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ns: Option<u64>,
}

/// Busy pages by pfn. The hasher is fast and fixed-seed: pfns come from the
/// kernel, not from someone who could choose colliding keys.
pub type BusyPages = HashMap<u64, BusyPage, foldhash::fast::FixedState>;

/// A page returned busy by `dax_layout_busy_page*` and not seen idle since.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyPage {
    pub pfn: u64,
    pub page: u64,
    pub mapping: u64,
    pub ino: u64,
    /// The page's index in the file (pgoff), when the kernel told it.
    pub index: Option<u64>,
    /// The filesystem's device (`s_dev`).
    pub dev: Dev,
    /// When first reported busy.
    pub since_ns: u64,
    /// Refcount at the last report.
    pub refcount: u64,
    /// How many times it was reported busy.
    pub hits: u64,
    /// A stuck wait was reported on this page.
    pub stuck: bool,
    /// Who was asking (the truncating / punching thread).
    pub seen_by: Actor,
}

/// A memory failure on a pfn of this pagemap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryFailureRecord {
    pub pfn: u64,
    pub mf_type: u32,
    pub result: u32,
    pub ts_ns: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagemapState {
    pub identity: PagemapIdentity,
    /// Existed before the trace (from the state at start): no `created_ns`.
    #[serde(default, skip_serializing_if = "super::device::is_false")]
    pub pre_existing: bool,
    pub created_ns: Option<u64>,
    pub destroyed_ns: Option<u64>,
    /// Busy pages by pfn (bounded; see `CollectorConfig::max_busy_pages`),
    /// in no order: every busy or idle event looks a pfn up, so this is a
    /// hash map (a B-tree was the collector's largest cost); views sort.
    pub busy: BusyPages,
    /// Busy pages dropped from `busy` to respect the bound.
    pub busy_evicted: u64,
    /// Pfns in the order they became busy, for O(1) eviction of the oldest;
    /// may hold pfns already cleared (skipped, and compacted when large).
    #[serde(skip)]
    busy_order: VecDeque<(u64, u64)>,
    /// `page-idle` events: a watched page went idle.
    pub idle_transitions: u64,
    /// Busy pages that were later seen idle (or released by a finished wait),
    /// and for how long they were busy, at most.
    pub busy_cleared: u64,
    pub longest_busy_ns: u64,
    /// Cumulative put and idle counts from the kernel's per-CPU counters.
    pub puts: u64,
    pub idles: u64,
    /// Devices whose filesystems were seen using pages of this pagemap.
    pub devices: BTreeSet<DeviceId>,
    pub memory_failures: u64,
    pub last_memory_failure: Option<MemoryFailureRecord>,
    /// Pages busy at start (the census), lowest pfn first, bounded by
    /// `CollectorConfig::max_busy_pages`; `busy_at_start_more` counts the rest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy_at_start: Vec<StartBusyPage>,
    #[serde(default, skip_serializing_if = "super::device::is_zero")]
    pub busy_at_start_more: u64,
    /// Earlier lives of the same pointer, oldest first (at most
    /// [`MAX_EARLIER_LIVES`], the oldest dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<PagemapLife>,
}

impl PagemapState {
    /// The pagemap born again at the same address: what it was becomes
    /// an earlier life of `next`.
    pub(super) fn reborn_as(self, mut next: PagemapState) -> PagemapState {
        next.earlier = self.earlier;
        next.earlier.push(PagemapLife {
            what: self.identity.describe().unwrap_or_default(),
            kind: self.identity.kind,
            driver: self.identity.driver,
            created_ns: self.created_ns,
            destroyed_ns: self.destroyed_ns,
        });
        if next.earlier.len() > MAX_EARLIER_LIVES {
            next.earlier.remove(0);
        }
        next
    }

    pub(super) fn new(pgmap: u64) -> Self {
        Self {
            identity: PagemapIdentity {
                pgmap,
                ..PagemapIdentity::default()
            },
            pre_existing: false,
            created_ns: None,
            destroyed_ns: None,
            busy: BusyPages::default(),
            busy_evicted: 0,
            busy_order: VecDeque::new(),
            idle_transitions: 0,
            busy_cleared: 0,
            longest_busy_ns: 0,
            puts: 0,
            idles: 0,
            devices: BTreeSet::new(),
            memory_failures: 0,
            last_memory_failure: None,
            busy_at_start: Vec::new(),
            busy_at_start_more: 0,
            earlier: Vec::new(),
        }
    }

    /// Records a page busy at start, keeping the `cap` lowest pfns (a page
    /// reported again is updated in place).
    pub(super) fn add_busy_at_start(&mut self, page: StartBusyPage, cap: usize) {
        match self
            .busy_at_start
            .binary_search_by_key(&page.pfn, |b| b.pfn)
        {
            Ok(i) => self.busy_at_start[i] = page,
            Err(i) => {
                self.busy_at_start.insert(i, page);
                if self.busy_at_start.len() > cap.max(1) {
                    self.busy_at_start.pop();
                    self.busy_at_start_more += 1;
                }
            }
        }
    }

    /// True when `pfn` lies in the pagemap's known range.
    pub fn contains_pfn(&self, pfn: u64) -> bool {
        self.identity
            .pfn_range
            .is_some_and(|(start, end)| (start..end).contains(&pfn))
    }

    /// Marks a busy page idle at `ts_ns`, busy at start or since; returns
    /// whether it was busy since the trace began.
    pub(super) fn clear_busy(&mut self, pfn: u64, ts_ns: u64) -> bool {
        if let Ok(i) = self.busy_at_start.binary_search_by_key(&pfn, |b| b.pfn) {
            self.busy_at_start[i].idle_ns.get_or_insert(ts_ns);
        }
        match self.busy.remove(&pfn) {
            Some(b) => {
                self.busy_cleared += 1;
                self.longest_busy_ns = self.longest_busy_ns.max(ts_ns.saturating_sub(b.since_ns));
                true
            }
            None => false,
        }
    }

    /// Records a busy report, keeping at most `cap` pages (the oldest go).
    pub(super) fn mark_busy(&mut self, page: BusyPage, cap: usize) {
        if let Some(b) = self.busy.get_mut(&page.pfn) {
            b.hits += 1;
            b.refcount = page.refcount;
            b.ino = page.ino;
            b.dev = page.dev;
            b.index = page.index.or(b.index);
            return;
        }
        let cap = cap.max(1);
        while self.busy.len() >= cap {
            let Some((pfn, since)) = self.busy_order.pop_front() else {
                break;
            };
            // Skip entries whose page was cleared (or cleared and busy again).
            if self.busy.get(&pfn).is_some_and(|b| b.since_ns == since) {
                self.busy.remove(&pfn);
                self.busy_evicted += 1;
            }
        }
        if self.busy_order.len() >= 2 * cap {
            let busy = &self.busy;
            self.busy_order
                .retain(|(pfn, since)| busy.get(pfn).is_some_and(|b| b.since_ns == *since));
        }
        self.busy_order.push_back((page.pfn, page.since_ns));
        self.busy.insert(page.pfn, page);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(pfn: u64, since_ns: u64) -> BusyPage {
        BusyPage {
            pfn,
            page: 0,
            mapping: 0,
            ino: 1,
            index: None,
            dev: Dev(1),
            since_ns,
            refcount: 2,
            hits: 1,
            stuck: false,
            seen_by: Actor {
                ts_ns: since_ns,
                pid: 1,
                tid: 1,
                comm: "t".into(),
            },
        }
    }

    fn sorted_pfns(p: &PagemapState) -> Vec<u64> {
        let mut pfns: Vec<u64> = p.busy.keys().copied().collect();
        pfns.sort_unstable();
        pfns
    }

    #[test]
    fn a_pagemap_is_described_by_kind_size_and_driver() {
        let mut id = PagemapIdentity {
            memory_type: Some(4),
            kind: Some(MemoryKind::Generic),
            fs_dax: Some(false),
            pfn_range: Some((0x40a00, 0x60000)),
            backing: "dax0.0".into(),
            driver: "device_dax".into(),
            ..PagemapIdentity::default()
        };
        assert_eq!(
            id.describe().as_deref(),
            Some("generic, 502 MiB, dax0.0 (device_dax)")
        );
        // An older trace: no kind, the raw type; the FS-DAX flag still names it.
        id.kind = None;
        id.driver.clear();
        assert_eq!(
            id.describe().as_deref(),
            Some("memory type 4, 502 MiB, dax0.0")
        );
        id.fs_dax = Some(true);
        assert_eq!(id.describe().as_deref(), Some("fs-dax, 502 MiB, dax0.0"));
        assert_eq!(PagemapIdentity::default().describe(), None);
    }

    #[test]
    fn the_oldest_busy_page_still_busy_is_evicted_first() {
        let mut p = PagemapState::new(1);
        p.mark_busy(page(1, 10), 2);
        p.mark_busy(page(2, 20), 2);
        assert!(p.clear_busy(1, 30));
        p.mark_busy(page(3, 40), 2);
        p.mark_busy(page(4, 50), 2);
        assert_eq!(sorted_pfns(&p), vec![3, 4]);
        assert_eq!(p.busy_evicted, 1);
        assert_eq!(p.busy_cleared, 1);
        assert_eq!(p.longest_busy_ns, 20);
    }

    #[test]
    fn the_eviction_queue_stays_bounded_when_pages_come_and_go() {
        let mut p = PagemapState::new(1);
        for i in 0..10_000u64 {
            p.mark_busy(page(i % 7, i), 4);
            p.clear_busy(i % 7, i);
        }
        assert!(p.busy_order.len() <= 8, "{}", p.busy_order.len());
    }
}
