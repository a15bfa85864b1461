//! Read-only views over the collector: leaks, holders, and the serializable
//! per-device / per-pagemap [`Summary`] that `report` prints.
use super::device::{is_false, is_zero};
use super::{
    Actor, Balance, ClaimRecord, Collector, DeviceId, DeviceIdentity, DeviceState, DmTarget,
    DropStats, FaultCounts, FlushStats, Mount, OpenClaim, OpenWait, PagemapIdentity, PagemapState,
    Presence, StartBusyPage, StateAtStart, Totals, WaitAtAttach,
};
use crate::event::{Dev, WaitApi};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A claim still open (at the end of a trace: a leak).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leak {
    pub device: DeviceId,
    pub identity: DeviceIdentity,
    pub claim: OpenClaim,
}

/// Everything one holder pointer holds or held (holder 0: claims made
/// without a holder, as by ext4, dm and every 5.10 claim).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderView {
    pub holder: u64,
    /// Open claims of this holder, per device.
    pub open: Vec<Leak>,
    /// Claim attempts of this holder in the devices' histories.
    pub recent_claims: u64,
    /// The newest claim attempt of this holder (from history).
    pub last_claim: Option<Actor>,
}

/// A thread waiting right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWaitView {
    pub ino: u64,
    pub dev: Dev,
    pub api: WaitApi,
    pub begin: Actor,
    /// How long it has waited, up to the newest event (a lower bound for
    /// a wait found at attach).
    pub waited_ns: u64,
    /// Already in progress at attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_attach: Option<WaitAtAttach>,
}

/// Whether a figure is a measured value or a bucket's upper bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    #[default]
    Exact,
    /// At most this much: the bucket's upper bound.
    Bound,
}

impl Precision {
    pub fn of(exact: bool) -> Self {
        if exact { Self::Exact } else { Self::Bound }
    }

    /// What precedes the figure in text: nothing, or `≤ `.
    pub fn mark(self) -> &'static str {
        match self {
            Self::Exact => "",
            Self::Bound => "≤ ",
        }
    }
}

/// One device, with derived figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub id: DeviceId,
    pub identity: DeviceIdentity,
    pub label: String,
    pub killed: bool,
    pub balance: Balance,
    pub outstanding: u64,
    pub current_holder: Option<OpenClaim>,
    pub open_claims: Vec<OpenClaim>,
    pub history: Vec<ClaimRecord>,
    pub waits: u64,
    pub wait_total_ns: u64,
    pub wait_max_ns: u64,
    pub wait_p50_ns: u64,
    pub wait_p99_ns: u64,
    /// `exact`: p50 and p99 are samples; `bound`: the samples were too many
    /// to keep, and they are the upper bounds of the buckets holding them.
    #[serde(default)]
    pub wait_percentiles: Precision,
    pub wait_errors: u64,
    pub stuck_waits: u64,
    /// Pages its files let go while busy.
    #[serde(default)]
    pub orphaned_pages: u64,
    /// Uninterruptible waits found blocked on a busy page.
    #[serde(default)]
    pub blocked_waits: u64,
    pub busy_pages_seen: u64,
    pub faults: FaultCounts,
    /// Host flush requests (virtio-pmem); absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flushes: Option<FlushSummary>,
    pub dm_members: Vec<String>,
    pub dm_parents: Vec<String>,
    pub dm_taken: u64,
    pub dm_dropped: u64,
    pub pagemaps: Vec<u64>,
    pub holder_failures: u64,
    /// From the state: the dax_device as found, its mount, its dm table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<Presence>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<Mount>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dm_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dm_targets: Vec<DmTarget>,
}

/// A device's flush requests to its host, as latency figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushSummary {
    pub count: u64,
    /// Flushes the host failed.
    pub errors: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub total_ns: u64,
    /// `exact`: p50 and p99 are samples; `bound`: bucket upper bounds.
    pub percentiles: Precision,
}

impl FlushSummary {
    /// None for a device that never flushed.
    pub fn of(f: &FlushStats) -> Option<Self> {
        let lat = &f.latency;
        (lat.count() > 0).then(|| Self {
            count: lat.count(),
            errors: f.errors,
            p50_ns: lat.p50_ns(),
            p99_ns: lat.p99_ns(),
            max_ns: lat.max_ns(),
            total_ns: lat.total_ns(),
            percentiles: Precision::of(lat.p50().exact),
        })
    }
}

/// One pagemap, with derived figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagemapSummary {
    pub identity: PagemapIdentity,
    pub pages: Option<u64>,
    pub destroyed: bool,
    pub busy_now: usize,
    pub busy_cleared: u64,
    pub longest_busy_ns: u64,
    pub stuck_pages: usize,
    pub idle_transitions: u64,
    pub puts: u64,
    pub idles: u64,
    pub memory_failures: u64,
    pub devices: Vec<String>,
    /// Existed before the trace (from the state at start).
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre_existing: bool,
    /// Pages busy at start (the census), lowest pfn first, and how many
    /// more were not kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy_at_start: Vec<StartBusyPage>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub busy_at_start_more: u64,
    /// Earlier lives of the same pagemap pointer, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<super::pagemap::PagemapLife>,
}

/// The whole state, ready to print or serialize.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub totals: Totals,
    pub drops: DropStats,
    /// Everything lost, by reason over all points (`ring-full`,
    /// `map-full`, `owner-overflow`, `owner-evicted`, `stack-lost`): zero
    /// reasons are left out, so `{}` means nothing was lost.
    #[serde(default)]
    pub losses: std::collections::BTreeMap<String, u64>,
    pub pagemaps: Vec<PagemapSummary>,
    pub devices: Vec<DeviceSummary>,
    pub holders: Vec<HolderView>,
    pub open_waits: Vec<OpenWaitView>,
    pub unmatched_releases: u64,
    pub double_claims: u64,
    pub stuck_waits: u64,
    /// The stuck waits counted, as many as the collector kept
    /// (`CollectorConfig::examples`), in the order they were reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stuck_wait_list: Vec<super::StuckWaitRecord>,
    /// Pages their file let go while busy, and as many as were kept.
    #[serde(default)]
    pub orphaned_pages: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphaned_page_list: Vec<super::OrphanedPage>,
    /// Uninterruptible (eviction) waits blocked on a busy page past the
    /// stuck threshold, and as many as were kept.
    #[serde(default)]
    pub blocked_waits: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_wait_list: Vec<super::BlockedWaitRecord>,
    /// The state at start, when the trace has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_at_start: Option<StateAtStart>,
    /// Claims held since before the trace and still open at its end (not leaks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held_since_start: Vec<Leak>,
    /// Page owners, busy pages with their owners, refused long-term pins
    /// (left out when the trace tells nothing of owners).
    #[serde(default, skip_serializing_if = "super::PinsSummary::is_empty")]
    pub pins: super::PinsSummary,
}

impl Collector {
    /// Every claim made during the trace and still open, oldest first per
    /// device. Claims held since before the trace are not leaks: see
    /// [`Collector::held_since_start`].
    pub fn leaks(&self) -> Vec<Leak> {
        self.open_claims_where(false)
    }

    /// Claims held since before the trace (found by the state at start) and
    /// still open.
    pub fn held_since_start(&self) -> Vec<Leak> {
        self.open_claims_where(true)
    }

    fn open_claims_where(&self, pre_existing: bool) -> Vec<Leak> {
        self.devices
            .values()
            .flat_map(|d| {
                d.open_claims
                    .iter()
                    .filter(move |c| c.pre_existing == pre_existing)
                    .map(|c| Leak {
                        device: d.id,
                        identity: d.identity.clone(),
                        claim: c.clone(),
                    })
            })
            .collect()
    }

    /// Claims grouped by holder pointer, holders sorted by pointer.
    pub fn holders(&self) -> Vec<HolderView> {
        let mut by: BTreeMap<u64, HolderView> = BTreeMap::new();
        let view = |holder| HolderView {
            holder,
            open: Vec::new(),
            recent_claims: 0,
            last_claim: None,
        };
        for d in self.devices.values() {
            for r in d.history.iter() {
                let h = by.entry(r.holder).or_insert_with(|| view(r.holder));
                h.recent_claims += 1;
                // A claim held since before the trace was not claimed by the
                // reading that found it.
                if !r.pre_existing
                    && h.last_claim
                        .as_ref()
                        .is_none_or(|a| a.ts_ns <= r.claimed.ts_ns)
                {
                    h.last_claim = Some(r.claimed.clone());
                }
            }
            for c in &d.open_claims {
                by.entry(c.holder)
                    .or_insert_with(|| view(c.holder))
                    .open
                    .push(Leak {
                        device: d.id,
                        identity: d.identity.clone(),
                        claim: c.clone(),
                    });
            }
        }
        by.into_values().collect()
    }

    /// Threads waiting now, longest first.
    pub fn open_wait_views(&self) -> Vec<OpenWaitView> {
        let now = self.totals.last_ts_ns;
        let mut v: Vec<OpenWaitView> = self
            .open_waits
            .values()
            .map(|w: &OpenWait| OpenWaitView {
                ino: w.ino,
                dev: w.dev,
                api: w.api,
                begin: w.begin.clone(),
                waited_ns: now.saturating_sub(w.begin.ts_ns),
                at_attach: w.at_attach.clone(),
            })
            .collect();
        v.sort_by(|a, b| {
            b.waited_ns
                .cmp(&a.waited_ns)
                .then(a.begin.tid.cmp(&b.begin.tid))
        });
        v
    }

    /// A device's derived figures.
    pub fn device_summary(&self, d: &DeviceState) -> DeviceSummary {
        let label = |id: &DeviceId| {
            self.devices
                .get(id)
                .map_or_else(|| format!("device #{}", id.0), |d| d.identity.label())
        };
        let lat = &d.waits.latency;
        DeviceSummary {
            id: d.id,
            identity: d.identity.clone(),
            label: d.identity.label(),
            killed: d.killed.is_some(),
            balance: d.balance.clone(),
            outstanding: d.open_claims.len() as u64,
            current_holder: d.current_holder().cloned(),
            open_claims: d.open_claims.clone(),
            history: d.history.iter().cloned().collect(),
            waits: lat.count(),
            wait_total_ns: lat.total_ns(),
            wait_max_ns: lat.max_ns(),
            wait_p50_ns: lat.p50_ns(),
            wait_p99_ns: lat.p99_ns(),
            wait_percentiles: Precision::of(lat.p50().exact),
            wait_errors: d.waits.errors,
            stuck_waits: d.stuck_waits,
            orphaned_pages: d.orphaned_pages,
            blocked_waits: d.blocked_waits,
            busy_pages_seen: d.busy_pages_seen,
            faults: d.faults,
            flushes: FlushSummary::of(&d.flushes),
            dm_members: d.members.iter().map(label).collect(),
            dm_parents: d.parents.iter().map(label).collect(),
            dm_taken: d.dm_taken,
            dm_dropped: d.dm_dropped,
            pagemaps: d.pagemaps.iter().copied().collect(),
            holder_failures: d.holder_failures,
            present: d.present.clone(),
            size_bytes: d.size_bytes(),
            mount: d.mount.clone(),
            dm_name: d.dm_name.clone(),
            dm_targets: d.dm_targets.clone(),
        }
    }

    /// A pagemap's derived figures.
    pub fn pagemap_summary(&self, p: &PagemapState) -> PagemapSummary {
        PagemapSummary {
            identity: p.identity.clone(),
            pages: p.identity.page_count(),
            destroyed: p.destroyed_ns.is_some(),
            busy_now: p.busy.len(),
            busy_cleared: p.busy_cleared,
            longest_busy_ns: p.longest_busy_ns,
            stuck_pages: p.busy.values().filter(|b| b.stuck).count(),
            idle_transitions: p.idle_transitions,
            puts: p.puts,
            idles: p.idles,
            memory_failures: p.memory_failures,
            devices: p
                .devices
                .iter()
                .filter_map(|id| self.devices.get(id))
                .map(|d| d.identity.label())
                .collect(),
            pre_existing: p.pre_existing,
            busy_at_start: p.busy_at_start.clone(),
            busy_at_start_more: p.busy_at_start_more,
            earlier: p.earlier.clone(),
        }
    }

    /// The whole state as one serializable value.
    pub fn summary(&self) -> Summary {
        Summary {
            totals: self.totals.clone(),
            drops: self.drops.clone(),
            losses: self.drops.by_reason(),
            pagemaps: self
                .pagemaps
                .values()
                .map(|p| self.pagemap_summary(p))
                .collect(),
            devices: self
                .devices
                .values()
                .map(|d| self.device_summary(d))
                .collect(),
            holders: self.holders(),
            open_waits: self.open_wait_views(),
            unmatched_releases: self.findings.unmatched_releases.count,
            double_claims: self.findings.double_claims.count,
            stuck_waits: self.findings.stuck_waits.count,
            stuck_wait_list: self.findings.stuck_waits.examples.clone(),
            orphaned_pages: self.findings.orphaned_pages.count,
            orphaned_page_list: self.findings.orphaned_pages.examples.clone(),
            blocked_waits: self.findings.blocked_waits.count,
            blocked_wait_list: self.findings.blocked_waits.examples.clone(),
            state_at_start: self.at_start.clone(),
            held_since_start: self.held_since_start(),
            pins: self.pins_summary(),
        }
    }
}
