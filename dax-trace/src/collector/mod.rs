//! The collector: folds [`Event`]s into per-device and per-pagemap state.
//! No I/O; live capture, replay, `top`, `report` and `check` all feed it the
//! same way (`Collector::ingest`) and read the same views.
//!
//! # Records and how identities are linked
//! Two kinds of records, each keyed by a kernel pointer used as an identity:
//!
//! - **Devices** ([`DeviceState`]): one per `struct dax_device`, also known by
//!   its block device `dev_t` and disk name. A record is found by *any* of
//!   these: claims carry all three (dax_dev, bdev, disk), `dax-add-host` and
//!   `dm-member` carry dax_dev + disk (+ bdev), releases and `dax-kill` carry
//!   only the dax_dev, and page-side events (busy pages, waits, faults, stuck
//!   waits) carry only the filesystem's `s_dev`, which is the claimed block
//!   device. An event naming only a `dev_t` not seen before creates a
//!   placeholder record; when a claim later ties that `dev_t` to a dax_dev,
//!   the placeholder is folded into the dax_dev's record. A `dax-alloc` of a
//!   pointer whose record was killed starts a new record (pointer reuse).
//! - **Pagemaps** ([`PagemapState`]): one per `struct dev_pagemap`, from
//!   `pagemap-create` (type, pfn range) or, when the pagemap predates the
//!   trace, from the first page event naming it. A busy page carries both its
//!   pgmap and the filesystem's `s_dev`, which links the pagemap to the device
//!   (in both directions; on dm the link is to the dm device whose filesystem
//!   uses the member's pages). A memory failure carries only a pfn and is
//!   attributed to the pagemap whose pfn range holds it.
//! - **dm topology**: `dm-access` (dm dax_dev -> member dax_dev) links parent
//!   and member devices; `dm-member` counts table opens and closes of a member.
//!
//! # Claims and releases
//! Open claims are kept per device and matched on release by holder pointer
//! (newest open claim of that holder first). 6.1+ xfs passes its mount as
//! holder to `fs_dax_get_by_bdev` and `fs_put_dax`; ext4 and dm pass NULL and
//! 5.10 has no holders, so holderless claims pair with holderless releases of
//! the same dax_dev, newest first. A refused claim (`granted = false`) is
//! counted but never open; when it names a device never seen otherwise it is
//! only counted in [`Totals::refused_unknown_devices`] (ext4 and xfs look for
//! a dax_device on every mount, DAX disk or not). A release matching no open claim and a claim by a
//! holder that already holds the device are recorded in [`Findings`].
//!
//! # Bounded memory
//! Everything is bounded by live objects and fixed caps
//! ([`CollectorConfig`]): open claims, a ring of the last claims per device,
//! busy pages per pagemap, open waits, a fixed-bucket latency histogram,
//! finding examples, and device/pagemap tables (records with nothing live are
//! evicted oldest first). A 24-hour trace does not grow the state.
mod actor;
mod device;
mod findings;
#[cfg(test)]
pub(crate) mod fixture;
mod histogram;
pub mod human;
mod kinds;
mod pagemap;
mod ring;
mod summary;

pub use actor::Actor;
pub use device::{
    Balance, ClaimOutcome, ClaimRecord, DeviceId, DeviceIdentity, DeviceState, FaultCounts,
    OpenClaim, WaitRecord, WaitStats,
};
pub use findings::{DoubleClaim, Findings, Sampled, SlowWait, StuckWaitRecord, UnmatchedRelease};
pub use histogram::LatencyHistogram;
pub use kinds::KindCounts;
pub use pagemap::{BusyPage, BusyPages, MemoryFailureRecord, PagemapIdentity, PagemapState};
pub use ring::BoundedRing;
pub use summary::{DeviceSummary, HolderView, Leak, OpenWaitView, PagemapSummary, Summary};

use crate::event::{ClaimApi, Dev, Event, EventBody, WaitApi};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Caps that keep the collector's memory bounded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Claim attempts remembered per device.
    pub history: usize,
    /// Busy pages remembered per pagemap.
    pub max_busy_pages: usize,
    /// Open claims per device (more means a runaway leak; the oldest go).
    pub max_open_claims: usize,
    /// Device records; those with no open claim are evicted oldest first.
    pub max_devices: usize,
    /// Pagemap records; destroyed ones are evicted first.
    pub max_pagemaps: usize,
    /// Threads remembered as currently waiting.
    pub max_open_waits: usize,
    /// Examples kept per kind of finding.
    pub examples: usize,
    /// Waits at least this long are recorded as slow (`check --max-wait`).
    pub slow_wait_ns: Option<u64>,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            history: 16,
            max_busy_pages: 1024,
            max_open_claims: 1024,
            max_devices: 256,
            max_pagemaps: 256,
            max_open_waits: 4096,
            examples: 64,
            slow_wait_ns: None,
        }
    }
}

/// A thread currently inside a break-layouts wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWait {
    pub inode: u64,
    pub ino: u64,
    pub dev: Dev,
    pub api: WaitApi,
    pub begin: Actor,
}

/// Events lost in the kernel, per attach point (cumulative counters).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropStats {
    pub per_point: BTreeMap<u16, u64>,
}

impl DropStats {
    pub fn total(&self) -> u64 {
        self.per_point.values().sum()
    }

    /// The attach points that lost events: (point, its target, events lost).
    pub fn lost_at(&self) -> impl Iterator<Item = (u16, &'static str, u64)> + '_ {
        self.per_point
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(point, n)| {
                let target = dax_trace_common::probe::POINTS
                    .get(usize::from(*point))
                    .map_or("unknown point", |p| p.target);
                (*point, target, *n)
            })
    }
}

/// Counters over the whole stream.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub events: u64,
    pub first_ts_ns: Option<u64>,
    pub last_ts_ns: u64,
    /// Events per kind (kebab-case names of [`EventBody`]).
    pub by_kind: KindCounts,
    /// `memremap_pages` calls that failed.
    pub failed_pagemaps: u64,
    /// dm table dax capability checks.
    pub dm_tables_capable: u64,
    pub dm_tables_not_capable: u64,
    /// Refused claims of devices never seen otherwise (mounts of non-DAX
    /// disks look for a dax_device too).
    pub refused_unknown_devices: u64,
    /// Memory failures on pfns of no known pagemap.
    pub unattributed_memory_failures: u64,
    /// Page-side events whose device could not be told (s_dev 0).
    pub unattributed_events: u64,
    /// Records evicted to respect the caps.
    pub evicted_devices: u64,
    pub evicted_pagemaps: u64,
    pub evicted_open_waits: u64,
}

impl Totals {
    /// Trace span from first to last event.
    pub fn span_ns(&self) -> u64 {
        self.first_ts_ns
            .map_or(0, |first| self.last_ts_ns.saturating_sub(first))
    }
}

/// Folds events into state; see the module docs.
#[derive(Clone, Debug)]
pub struct Collector {
    config: CollectorConfig,
    devices: BTreeMap<DeviceId, DeviceState>,
    next_device: u32,
    by_dax: HashMap<u64, DeviceId>,
    by_bdev: HashMap<Dev, DeviceId>,
    by_disk: HashMap<String, DeviceId>,
    /// The last `s_dev` looked up and its device: page-side events come in
    /// runs from one filesystem. Cleared whenever the indexes change.
    last_dev: Option<(Dev, DeviceId)>,
    pagemaps: BTreeMap<u64, PagemapState>,
    open_waits: HashMap<u32, OpenWait>,
    findings: Findings,
    drops: DropStats,
    totals: Totals,
    next_claim: u64,
}

impl Default for Collector {
    fn default() -> Self {
        Self::new(CollectorConfig::default())
    }
}

impl Collector {
    pub fn new(config: CollectorConfig) -> Self {
        let findings = Findings::new(config.examples);
        Self {
            config,
            devices: BTreeMap::new(),
            next_device: 0,
            by_dax: HashMap::new(),
            by_bdev: HashMap::new(),
            by_disk: HashMap::new(),
            last_dev: None,
            pagemaps: BTreeMap::new(),
            open_waits: HashMap::new(),
            findings,
            drops: DropStats::default(),
            totals: Totals::default(),
            next_claim: 0,
        }
    }

    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// Folds one event into the state.
    pub fn ingest(&mut self, ev: &Event) {
        self.count(ev);
        match &ev.body {
            EventBody::PagemapCreate {
                pgmap,
                memory_type,
                fs_dax,
                pfn_start,
                pfn_end,
                nr_range,
                owner,
                ret,
            } => {
                if *ret != 0 || *pgmap == 0 {
                    self.totals.failed_pagemaps += 1;
                    return;
                }
                let mut p = PagemapState::new(*pgmap);
                p.identity = PagemapIdentity {
                    pgmap: *pgmap,
                    memory_type: Some(*memory_type),
                    fs_dax: Some(*fs_dax),
                    pfn_range: Some((*pfn_start, *pfn_end)),
                    nr_range: Some(*nr_range),
                    owner: *owner,
                };
                p.created_ns = Some(ev.ts_ns);
                self.pagemaps.insert(*pgmap, p);
                self.prune_pagemaps(*pgmap);
            }
            EventBody::PagemapDestroy { pgmap } => {
                if let Some(p) = self.pagemap_mut(*pgmap) {
                    p.destroyed_ns = Some(ev.ts_ns);
                    p.busy.clear();
                }
            }
            EventBody::Claim {
                dax_dev,
                holder,
                bdev,
                disk,
                granted,
                api,
                ..
            } => self.on_claim(ev, *dax_dev, *holder, *bdev, disk, *granted, *api),
            EventBody::Release {
                dax_dev,
                holder,
                api,
                ..
            } => self.on_release(ev, *dax_dev, *holder, *api),
            EventBody::DaxAlloc { dax_dev, .. } => {
                if let Some(old) = self.by_dax.get(dax_dev).copied()
                    && self.devices.get(&old).is_some_and(|d| d.killed.is_some())
                {
                    self.by_dax.remove(dax_dev);
                }
                let id = self.resolve(*dax_dev, Dev(0), "", ev.ts_ns);
                if let Some(d) = self.devices.get_mut(&id) {
                    d.allocated = Some(ev.ts_ns);
                }
            }
            EventBody::DaxKill { dax_dev, .. } => {
                let id = self.resolve(*dax_dev, Dev(0), "", ev.ts_ns);
                if let Some(d) = self.devices.get_mut(&id) {
                    d.killed = Some(ev.ts_ns);
                }
            }
            EventBody::DaxAddHost { dax_dev, disk } => {
                self.resolve(*dax_dev, Dev(0), disk, ev.ts_ns);
            }
            EventBody::PageIdle { pgmap, pfn, .. } => {
                if let Some(p) = self.pagemap_mut(*pgmap) {
                    p.idle_transitions += 1;
                    p.clear_busy(*pfn, ev.ts_ns);
                }
            }
            EventBody::BusyPage {
                mapping,
                page,
                pfn,
                ino,
                dev,
                pgmap,
                refcount,
                index,
            } => {
                let device = self.device_for_dev(*dev, ev.ts_ns);
                let cap = self.config.max_busy_pages;
                if let Some(p) = self.pagemap_mut(*pgmap) {
                    p.mark_busy(
                        BusyPage {
                            pfn: *pfn,
                            page: *page,
                            mapping: *mapping,
                            ino: *ino,
                            index: *index,
                            dev: *dev,
                            since_ns: ev.ts_ns,
                            refcount: *refcount,
                            hits: 1,
                            stuck: false,
                            seen_by: Actor::of(ev),
                        },
                        cap,
                    );
                    if let Some(id) = device {
                        p.devices.insert(id);
                    }
                }
                if let Some(d) = device.and_then(|id| self.devices.get_mut(&id)) {
                    d.busy_pages_seen += 1;
                    if *pgmap != 0 {
                        d.pagemaps.insert(*pgmap);
                    }
                }
            }
            EventBody::WaitBegin {
                inode,
                ino,
                dev,
                api,
            } => self.on_wait_begin(ev, *inode, *ino, *dev, *api),
            EventBody::WaitEnd {
                ino,
                dev,
                api,
                latency_ns,
                ret,
                busy_pfn,
                busy_hits,
                ..
            } => self.on_wait_end(
                ev,
                WaitRecord {
                    ino: *ino,
                    dev: *dev,
                    api: *api,
                    latency_ns: *latency_ns,
                    ret: *ret,
                    busy_pfn: *busy_pfn,
                    waiter: Actor::of(ev),
                },
                *busy_hits,
            ),
            EventBody::DmAccess {
                dm_dax_dev,
                member_dax_dev,
                ..
            } => {
                let parent = self.resolve(*dm_dax_dev, Dev(0), "", ev.ts_ns);
                let member = self.resolve(*member_dax_dev, Dev(0), "", ev.ts_ns);
                if parent != member {
                    if let Some(d) = self.devices.get_mut(&parent) {
                        d.members.insert(member);
                    }
                    if let Some(d) = self.devices.get_mut(&member) {
                        d.parents.insert(parent);
                    }
                }
            }
            EventBody::DmTableDax { capable, .. } => {
                if *capable {
                    self.totals.dm_tables_capable += 1;
                } else {
                    self.totals.dm_tables_not_capable += 1;
                }
            }
            EventBody::DmMember {
                member_dax_dev,
                taken,
                bdev,
                disk,
            } => {
                let id = self.resolve(*member_dax_dev, *bdev, disk, ev.ts_ns);
                if let Some(d) = self.devices.get_mut(&id) {
                    if *taken {
                        d.dm_taken += 1;
                    } else {
                        d.dm_dropped += 1;
                    }
                }
            }
            EventBody::Fault { dev, pmd, .. } => {
                if let Some(d) = self
                    .device_for_dev(*dev, ev.ts_ns)
                    .and_then(|id| self.devices.get_mut(&id))
                {
                    if *pmd {
                        d.faults.pmd += 1;
                    } else {
                        d.faults.pte += 1;
                    }
                }
            }
            EventBody::MemoryFailure {
                pfn,
                mf_type,
                result,
            } => {
                let record = MemoryFailureRecord {
                    pfn: *pfn,
                    mf_type: *mf_type,
                    result: *result,
                    ts_ns: ev.ts_ns,
                };
                match self.pagemaps.values_mut().find(|p| p.contains_pfn(*pfn)) {
                    Some(p) => {
                        p.memory_failures += 1;
                        p.last_memory_failure = Some(record);
                    }
                    None => self.totals.unattributed_memory_failures += 1,
                }
            }
            EventBody::HolderNotifyFailure { dax_dev, .. } => {
                let id = self.resolve(*dax_dev, Dev(0), "", ev.ts_ns);
                if let Some(d) = self.devices.get_mut(&id) {
                    d.holder_failures += 1;
                }
            }
            EventBody::StuckWait {
                page,
                pfn,
                refcount,
                wait_begin_ns,
                ino,
                dev,
                waiter_tid,
                pgmap,
            } => {
                let device = self.device_for_dev(*dev, ev.ts_ns);
                if let Some(p) = self.pagemap_mut(*pgmap)
                    && let Some(b) = p.busy.get_mut(pfn)
                {
                    b.stuck = true;
                }
                let identity = device.and_then(|id| {
                    let d = self.devices.get_mut(&id)?;
                    d.stuck_waits += 1;
                    Some(d.identity.clone())
                });
                self.findings.stuck_waits.push(StuckWaitRecord {
                    device,
                    identity,
                    dev: *dev,
                    pgmap: *pgmap,
                    pfn: *pfn,
                    page: *page,
                    ino: *ino,
                    refcount: *refcount,
                    waiter_tid: *waiter_tid,
                    waiter: self.open_waits.get(waiter_tid).map(|w| w.begin.clone()),
                    wait_begin_ns: *wait_begin_ns,
                    reported_ns: ev.ts_ns,
                });
            }
            EventBody::PutStats { pgmap, puts, idles } => {
                if let Some(p) = self.pagemap_mut(*pgmap) {
                    p.puts = *puts;
                    p.idles = *idles;
                }
            }
            EventBody::Drops { point, total } => {
                let slot = self.drops.per_point.entry(*point).or_default();
                *slot = (*slot).max(*total);
            }
        }
    }

    // ----- views -----

    /// Device records in creation order.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceState> {
        self.devices.values()
    }

    pub fn device(&self, id: DeviceId) -> Option<&DeviceState> {
        self.devices.get(&id)
    }

    /// The device currently known by this dax_device pointer.
    pub fn device_by_dax(&self, dax_dev: u64) -> Option<&DeviceState> {
        self.by_dax
            .get(&dax_dev)
            .and_then(|id| self.devices.get(id))
    }

    /// The device a disk name or `MAJ:MIN` names.
    pub fn device_by_name(&self, name: &str) -> Option<&DeviceState> {
        self.devices.values().find(|d| d.identity.matches(name))
    }

    /// Pagemap records by pointer.
    pub fn pagemaps(&self) -> impl Iterator<Item = &PagemapState> {
        self.pagemaps.values()
    }

    pub fn pagemap(&self, pgmap: u64) -> Option<&PagemapState> {
        self.pagemaps.get(&pgmap)
    }

    /// Threads currently inside a break-layouts wait.
    pub fn open_waits(&self) -> impl Iterator<Item = &OpenWait> {
        self.open_waits.values()
    }

    pub fn findings(&self) -> &Findings {
        &self.findings
    }

    pub fn drops(&self) -> &DropStats {
        &self.drops
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    // ----- folding -----

    fn count(&mut self, ev: &Event) {
        let t = &mut self.totals;
        t.events += 1;
        if t.first_ts_ns.is_none() {
            t.first_ts_ns = Some(ev.ts_ns);
        }
        t.last_ts_ns = t.last_ts_ns.max(ev.ts_ns);
        t.by_kind.add(&ev.body);
    }

    #[allow(clippy::too_many_arguments)]
    fn on_claim(
        &mut self,
        ev: &Event,
        dax_dev: u64,
        holder: u64,
        bdev: Dev,
        disk: &str,
        granted: bool,
        api: ClaimApi,
    ) {
        let granted = granted && dax_dev != 0;
        // Every ext4/xfs mount asks for a dax_device, DAX or not: a refused
        // claim on a device never seen is a lookup of a non-DAX disk, not
        // worth a record.
        let known = (bdev.0 != 0 && self.by_bdev.contains_key(&bdev))
            || (!disk.is_empty() && self.by_disk.contains_key(disk));
        if !granted && !known {
            self.totals.refused_unknown_devices += 1;
            return;
        }
        let id = self.resolve(if granted { dax_dev } else { 0 }, bdev, disk, ev.ts_ns);
        let seq = self.next_claim;
        self.next_claim += 1;
        let max_open = self.config.max_open_claims;
        let Some(d) = self.devices.get_mut(&id) else {
            return;
        };
        if holder != 0
            && let Some(first) = d.open_claims.iter().find(|c| c.holder == holder)
        {
            self.findings.double_claims.push(DoubleClaim {
                device: id,
                identity: d.identity.clone(),
                holder,
                first: first.clone(),
                second: Actor::of(ev),
                granted,
            });
        }
        if granted {
            d.balance.claims += 1;
            if d.open_claims.len() >= max_open.max(1) {
                d.open_claims.remove(0);
                self.findings.open_claims_overflow += 1;
            }
            d.open_claims.push(OpenClaim {
                seq,
                holder,
                bdev,
                disk: disk.to_string(),
                api,
                by: Actor::of(ev),
            });
        } else {
            d.balance.refused += 1;
        }
        d.history.push(ClaimRecord {
            seq,
            holder,
            bdev,
            disk: disk.to_string(),
            api,
            outcome: if granted {
                ClaimOutcome::Granted
            } else {
                ClaimOutcome::Refused
            },
            claimed: Actor::of(ev),
            released: None,
        });
    }

    fn on_release(&mut self, ev: &Event, dax_dev: u64, holder: u64, api: ClaimApi) {
        if dax_dev == 0 {
            // put_dax(NULL) / fs_put_dax(NULL, ..) do nothing in the kernel.
            return;
        }
        let id = self.resolve(dax_dev, Dev(0), "", ev.ts_ns);
        let Some(d) = self.devices.get_mut(&id) else {
            return;
        };
        match d.open_claims.iter().rposition(|c| c.holder == holder) {
            Some(i) => {
                let claim = d.open_claims.remove(i);
                d.balance.releases += 1;
                if let Some(r) = d.history.iter_mut().rev().find(|r| r.seq == claim.seq) {
                    r.released = Some(Actor::of(ev));
                }
            }
            None if api == ClaimApi::PutDax && holder == 0 && d.killed.is_some() => {
                d.balance.owner_puts += 1;
            }
            None => {
                d.balance.unmatched_releases += 1;
                self.findings.unmatched_releases.push(UnmatchedRelease {
                    device: id,
                    identity: d.identity.clone(),
                    holder,
                    api,
                    by: Actor::of(ev),
                });
            }
        }
    }

    fn on_wait_begin(&mut self, ev: &Event, inode: u64, ino: u64, dev: Dev, api: WaitApi) {
        if self.open_waits.len() >= self.config.max_open_waits.max(1)
            && !self.open_waits.contains_key(&ev.tid)
        {
            let oldest = self
                .open_waits
                .iter()
                .min_by_key(|(_, w)| w.begin.ts_ns)
                .map(|(tid, _)| *tid);
            if let Some(tid) = oldest {
                self.open_waits.remove(&tid);
                self.totals.evicted_open_waits += 1;
            }
        }
        self.open_waits.insert(
            ev.tid,
            OpenWait {
                inode,
                ino,
                dev,
                api,
                begin: Actor::of(ev),
            },
        );
        // Name the device early so it shows while the wait is open.
        self.device_for_dev(dev, ev.ts_ns);
    }

    fn on_wait_end(&mut self, ev: &Event, record: WaitRecord, busy_hits: u64) {
        self.open_waits.remove(&ev.tid);
        let device = self.device_for_dev(record.dev, ev.ts_ns);
        if record.ret == 0 {
            // The waiter got through: no page of this file is busy any more.
            for p in self.pagemaps.values_mut() {
                let done: Vec<u64> = p
                    .busy
                    .values()
                    .filter(|b| b.dev == record.dev && b.ino == record.ino)
                    .map(|b| b.pfn)
                    .collect();
                for pfn in done {
                    p.clear_busy(pfn, ev.ts_ns);
                }
            }
        }
        let identity = device.and_then(|id| {
            let d = self.devices.get_mut(&id)?;
            let w = &mut d.waits;
            w.latency.record(record.latency_ns);
            w.busy_hits += busy_hits;
            if record.ret != 0 {
                w.errors += 1;
            }
            if w.longest
                .as_ref()
                .is_none_or(|l| record.latency_ns > l.latency_ns)
            {
                w.longest = Some(record.clone());
            }
            Some(d.identity.clone())
        });
        if self
            .config
            .slow_wait_ns
            .is_some_and(|limit| record.latency_ns >= limit)
        {
            self.findings.slow_waits.push(SlowWait {
                device,
                identity,
                record,
            });
        }
    }

    // ----- identity -----

    fn pagemap_mut(&mut self, pgmap: u64) -> Option<&mut PagemapState> {
        if pgmap == 0 {
            return None;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = self.pagemaps.entry(pgmap) {
            slot.insert(PagemapState::new(pgmap));
            self.prune_pagemaps(pgmap);
        }
        self.pagemaps.get_mut(&pgmap)
    }

    /// The device a page-side event's `s_dev` names (a placeholder when new).
    fn device_for_dev(&mut self, dev: Dev, ts_ns: u64) -> Option<DeviceId> {
        if dev.0 == 0 {
            self.totals.unattributed_events += 1;
            return None;
        }
        let id = match self.last_dev {
            Some((d, id)) if d == dev => id,
            _ => {
                let id = match self.by_bdev.get(&dev) {
                    Some(id) => *id,
                    None => self.resolve(0, dev, "", ts_ns),
                };
                self.last_dev = Some((dev, id));
                id
            }
        };
        if let Some(d) = self.devices.get_mut(&id) {
            d.last_seen_ns = d.last_seen_ns.max(ts_ns);
        }
        Some(id)
    }

    /// Finds or creates the device known by any of the given identities
    /// (0 / empty: unknown), learns the others, and folds placeholders.
    fn resolve(&mut self, dax_dev: u64, bdev: Dev, disk: &str, ts_ns: u64) -> DeviceId {
        self.last_dev = None;
        let by_dax = (dax_dev != 0)
            .then(|| self.by_dax.get(&dax_dev).copied())
            .flatten();
        let by_bdev = (bdev.0 != 0)
            .then(|| self.by_bdev.get(&bdev).copied())
            .flatten();
        let by_disk = (!disk.is_empty())
            .then(|| self.by_disk.get(disk).copied())
            .flatten();
        // A record under another identity can be reused only if it does not
        // belong to a different dax_device.
        let compatible = |c: &Collector, id: DeviceId| {
            c.devices.get(&id).is_some_and(|d| {
                dax_dev == 0 || d.identity.dax_dev == 0 || d.identity.dax_dev == dax_dev
            })
        };
        let id = match by_dax
            .or_else(|| by_bdev.filter(|id| compatible(self, *id)))
            .or_else(|| by_disk.filter(|id| compatible(self, *id)))
        {
            Some(id) => id,
            None => self.create_device(ts_ns),
        };
        // Fold placeholders that the other identities pointed to.
        for other in [by_bdev, by_disk].into_iter().flatten() {
            if other != id
                && self
                    .devices
                    .get(&other)
                    .is_some_and(DeviceState::is_placeholder)
                && let Some(old) = self.devices.remove(&other)
            {
                self.forget(other);
                if let Some(d) = self.devices.get_mut(&id) {
                    d.absorb(old);
                }
            }
        }
        if let Some(d) = self.devices.get_mut(&id) {
            d.last_seen_ns = d.last_seen_ns.max(ts_ns);
            if dax_dev != 0 {
                d.identity.dax_dev = dax_dev;
                self.by_dax.insert(dax_dev, id);
            }
            if bdev.0 != 0 {
                if d.identity.bdev.0 == 0 {
                    d.identity.bdev = bdev;
                }
                self.by_bdev.insert(bdev, id);
            }
            if !disk.is_empty() {
                if d.identity.disk.is_empty() {
                    d.identity.disk = disk.to_string();
                }
                self.by_disk.insert(disk.to_string(), id);
            }
        }
        id
    }

    fn create_device(&mut self, ts_ns: u64) -> DeviceId {
        let id = DeviceId(self.next_device);
        self.next_device += 1;
        self.devices
            .insert(id, DeviceState::new(id, ts_ns, self.config.history));
        self.prune_devices(id);
        id
    }

    /// Drops index entries pointing at `id`.
    fn forget(&mut self, id: DeviceId) {
        self.last_dev = None;
        self.by_dax.retain(|_, v| *v != id);
        self.by_bdev.retain(|_, v| *v != id);
        self.by_disk.retain(|_, v| *v != id);
    }

    /// Evicts the least recently seen devices without open claims beyond the cap.
    fn prune_devices(&mut self, keep: DeviceId) {
        while self.devices.len() > self.config.max_devices.max(1) {
            let victim = self
                .devices
                .values()
                .filter(|d| d.id != keep && d.open_claims.is_empty())
                .min_by_key(|d| d.last_seen_ns)
                .map(|d| d.id);
            let Some(victim) = victim else { break };
            self.devices.remove(&victim);
            self.forget(victim);
            self.totals.evicted_devices += 1;
        }
    }

    /// Evicts destroyed pagemaps, then the oldest, beyond the cap.
    fn prune_pagemaps(&mut self, keep: u64) {
        while self.pagemaps.len() > self.config.max_pagemaps.max(1) {
            let victim = self
                .pagemaps
                .values()
                .filter(|p| p.identity.pgmap != keep)
                .min_by_key(|p| {
                    (
                        p.destroyed_ns.is_none(),
                        p.destroyed_ns.or(p.created_ns).unwrap_or(0),
                    )
                })
                .map(|p| p.identity.pgmap);
            let Some(victim) = victim else { break };
            self.pagemaps.remove(&victim);
            self.totals.evicted_pagemaps += 1;
        }
    }
}

#[cfg(test)]
mod tests;
