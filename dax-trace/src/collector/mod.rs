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
//! # The state at start
//! A live front end reads what already exists when it attaches (pagemaps,
//! dax_devices and their claims, mounts, dm tables, waits in progress, busy
//! pages) and sends it as `state-*` events closed by one `state-end`; updates
//! while running use the same kinds. The `at_start` and `at_start_pages`
//! modules apply them: records found there are marked pre-existing, claims
//! found on a dax_device are open claims "held since before the trace"
//! (matched by releases like any claim, never a leak), a wait found asleep
//! is an open wait whose start is a lower bound. See docs/check.md for how
//! check judges them.
//!
//! # Bounded memory
//! Everything is bounded by live objects and fixed caps
//! ([`CollectorConfig`]): open claims, a ring of the last claims per device,
//! busy pages per pagemap, open waits, a fixed-bucket latency histogram,
//! finding examples, and device/pagemap tables (records with nothing live are
//! evicted oldest first). A 24-hour trace does not grow the state.
mod actor;
mod at_start;
mod at_start_pages;
mod claims;
mod dax_mode;
mod device;
mod dm;
mod faults;
mod findings;
mod histogram;
mod identity;
mod kinds;
mod orphans;
mod pagemap;
mod pages;
mod pins;
pub mod pins_view;
mod ring;
mod summary;
mod waits;

pub use actor::Actor;
pub use at_start::StateAtStart;
pub use dax_mode::DaxAnswer;
pub use device::{
    Balance, ClaimOutcome, ClaimRecord, DeviceId, DeviceIdentity, DeviceState, DmTarget,
    FaultCounts, FlushStats, Mount, OpenClaim, Presence, WaitRecord, WaitStats,
};
pub use findings::{
    DoubleClaim, EndedAttachWait, Findings, Sampled, SlowWait, StuckWaitRecord, UnmatchedRelease,
};
pub use histogram::{EXACT_CAP, LatencyHistogram, Quantile};
pub use kinds::KindCounts;
pub use orphans::{BlockedWaitRecord, OpenOrphan, OrphanedPage};
pub use pagemap::{
    BusyPage, BusyPages, MemoryFailureRecord, PagemapIdentity, PagemapState, StartBusyPage,
};
pub use pins::{
    Ownership, PageOwners, PinOwnerRecord, PinReleaseRecord, Pins, RefusedPinGroup, entry_name,
};
pub use pins_view::{BusyPageOwners, PinsSummary};
pub use ring::BoundedRing;
pub use summary::{
    DeviceSummary, FlushSummary, HolderView, Leak, OpenWaitView, PagemapSummary, Precision, Summary,
};

use crate::event::{Dev, Event, EventBody, WaitApi};
use dax_trace_common::Loss;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Open claims remembered per device: what a count field of a trace (a
/// dax_device's claims at start) may make any reader of it (report, check,
/// top, every exporter) hold or write.
pub const MAX_OPEN_CLAIMS: usize = 1024;

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
            max_open_claims: MAX_OPEN_CLAIMS,
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
    /// For a wait found at attach, `begin.ts_ns` is the reading's time less
    /// the time it had slept (a lower bound).
    pub begin: Actor,
    /// Set when the wait was already in progress at attach (a `state-wait`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_attach: Option<WaitAtAttach>,
}

/// What the state told of a wait in progress at attach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitAtAttach {
    /// When it was found.
    pub found_ns: u64,
    pub pgmap: u64,
    pub pfn: u64,
    pub index: Option<u64>,
    pub refcount: u64,
    /// Asleep at least this long when found.
    pub slept_ns: u64,
    /// The page was idle by the kernel's rule while the waiter slept.
    pub idle: bool,
}

/// What the kernel lost, per attach point (cumulative counters): events
/// the ring buffer had no room for, and the other losses by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropStats {
    /// Events lost (a full ring buffer), per point.
    pub per_point: BTreeMap<u16, u64>,
    /// Other losses: reason name (`map-full`, `owner-overflow`,
    /// `stack-lost`) to per-point totals.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub losses: BTreeMap<String, BTreeMap<u16, u64>>,
}

impl DropStats {
    /// Folds in one `Drops` event (totals only grow).
    pub fn record(&mut self, d: &crate::event::Drops) {
        let slot = match Loss::from_u16(d.reason) {
            Some(Loss::RingFull) => self.per_point.entry(d.point).or_default(),
            Some(loss) => self
                .losses
                .entry(loss.name().to_string())
                .or_default()
                .entry(d.point)
                .or_default(),
            None => self
                .losses
                .entry(format!("reason-{}", d.reason))
                .or_default()
                .entry(d.point)
                .or_default(),
        };
        *slot = (*slot).max(d.total);
    }

    pub fn total(&self) -> u64 {
        self.per_point.values().sum()
    }

    /// Totals by reason over all points, the ring buffer's included;
    /// reasons with nothing lost are left out.
    pub fn by_reason(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        if self.total() > 0 {
            out.insert(Loss::RingFull.name().to_string(), self.total());
        }
        for (reason, points) in &self.losses {
            let n: u64 = points.values().sum();
            if n > 0 {
                *out.entry(reason.clone()).or_default() += n;
            }
        }
        out
    }

    /// The attach points that lost events: (point, its target, events lost).
    pub fn lost_at(&self) -> impl Iterator<Item = (u16, &'static str, u64)> + '_ {
        self.per_point
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(point, n)| (*point, target_of(*point), *n))
    }

    /// The other losses: (reason, point, its target, count).
    pub fn other_losses(&self) -> impl Iterator<Item = (&str, u16, &'static str, u64)> + '_ {
        self.losses.iter().flat_map(|(reason, points)| {
            points
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(move |(point, n)| (reason.as_str(), *point, target_of(*point), *n))
        })
    }
}

fn target_of(point: u16) -> &'static str {
    dax_trace_common::probe::POINTS
        .get(usize::from(point))
        .map_or("unknown point", |p| p.target)
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
    /// Orphaned pages not yet idle, by `struct page *`.
    open_orphans: HashMap<u64, OpenOrphan>,
    findings: Findings,
    /// Page owners and refused long-term pins.
    pins: Pins,
    drops: DropStats,
    totals: Totals,
    next_claim: u64,
    /// The state at start, once its `state-end` was seen.
    at_start: Option<StateAtStart>,
    /// `state-end` records of updates while running.
    state_updates: u64,
    /// Whether DAX was in effect, per mount point.
    dax_answers: dax_mode::DaxAnswers,
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
            open_orphans: HashMap::new(),
            findings,
            pins: Pins::default(),
            drops: DropStats::default(),
            totals: Totals::default(),
            next_claim: 0,
            at_start: None,
            state_updates: 0,
            dax_answers: dax_mode::DaxAnswers::default(),
        }
    }

    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// Folds one event into the state: each kind goes to the module of its
    /// concern (claims, pages, waits, dm, faults).
    pub fn ingest(&mut self, ev: &Event) {
        self.count(ev);
        match &ev.body {
            EventBody::PagemapCreate(c) => self.on_pagemap_create(ev, c),
            EventBody::PagemapDestroy(d) => self.on_pagemap_destroy(ev, d),
            EventBody::Claim(c) => self.on_claim(ev, c),
            EventBody::Release(r) => self.on_release(ev, r),
            EventBody::DaxAlloc(a) => self.on_dax_alloc(ev, a),
            EventBody::DaxKill(k) => self.on_dax_kill(ev, k),
            EventBody::DaxAddHost(h) => self.on_dax_add_host(ev, h),
            EventBody::PageIdle(i) => self.on_page_idle(ev, i),
            EventBody::BusyPage(b) => self.on_busy_page(ev, b),
            EventBody::WaitBegin(w) => self.on_wait_begin(ev, w),
            EventBody::WaitEnd(w) => self.on_wait_end(ev, w),
            EventBody::DmAccess(a) => self.on_dm_access(ev, a),
            EventBody::DmTableDax(t) => self.on_dm_table_dax(t),
            EventBody::DmMember(m) => self.on_dm_member(ev, m),
            EventBody::Fault(f) => self.on_fault(ev, f),
            EventBody::FaultCounts(c) => self.on_fault_counts(ev, c),
            EventBody::MemoryFailure(m) => self.on_memory_failure(ev, m),
            EventBody::PinOwner(o) => self.on_pin_owner(ev, o),
            EventBody::PinRelease(r) => self.on_pin_release(ev, r),
            EventBody::RefusedPin(r) => self.on_refused_pin(ev, r),
            EventBody::HolderNotifyFailure(h) => self.on_holder_notify_failure(ev, h),
            EventBody::StuckWait(w) => self.on_stuck_wait(ev, w),
            EventBody::PageOrphaned(o) => self.on_page_orphaned(ev, o),
            EventBody::OrphanIdle(i) => self.on_orphan_idle(ev, i),
            EventBody::BlockedWait(b) => self.on_blocked_wait(ev, b),
            EventBody::PmemFlush(f) => self.on_pmem_flush(ev, f),
            EventBody::PutStats(p) => self.on_put_stats(p),
            EventBody::Drops(d) => self.drops.record(d),
            EventBody::StatePagemap(p) => self.on_state_pagemap(ev, p),
            EventBody::StateDaxDevice(d) => self.on_state_dax_device(ev, d),
            EventBody::StateMount(m) => self.on_state_mount(ev, m),
            EventBody::StateDmTarget(t) => self.on_state_dm_target(ev, t),
            EventBody::StateWait(w) => self.on_state_wait(ev, w),
            EventBody::StateBusyPage(b) => self.on_state_busy_page(ev, b),
            EventBody::StateEnd(e) => self.on_state_end(ev, e),
            EventBody::StateDaxMode(s) => self.on_state_dax_mode(ev, s),
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

    /// The state at start, when the trace has one (its `state-end` was seen).
    pub fn state_at_start(&self) -> Option<&StateAtStart> {
        self.at_start.as_ref()
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
}

#[cfg(test)]
mod tests;
