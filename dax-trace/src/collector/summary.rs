//! Read-only views over the collector: leaks, holders, and the serializable
//! per-device / per-pagemap [`Summary`] that `report` prints.
use super::{
    Actor, Balance, ClaimRecord, Collector, DeviceId, DeviceIdentity, DeviceState, DropStats,
    FaultCounts, OpenClaim, OpenWait, PagemapIdentity, PagemapState, Totals,
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
    /// How long it has waited, up to the newest event.
    pub waited_ns: u64,
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
    pub wait_errors: u64,
    pub stuck_waits: u64,
    pub busy_pages_seen: u64,
    pub faults: FaultCounts,
    pub dm_members: Vec<String>,
    pub dm_parents: Vec<String>,
    pub dm_taken: u64,
    pub dm_dropped: u64,
    pub pagemaps: Vec<u64>,
    pub holder_failures: u64,
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
}

/// The whole state, ready to print or serialize.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub totals: Totals,
    pub drops: DropStats,
    pub pagemaps: Vec<PagemapSummary>,
    pub devices: Vec<DeviceSummary>,
    pub holders: Vec<HolderView>,
    pub open_waits: Vec<OpenWaitView>,
    pub unmatched_releases: u64,
    pub double_claims: u64,
    pub stuck_waits: u64,
}

impl Collector {
    /// Every claim still open, oldest first per device.
    pub fn leaks(&self) -> Vec<Leak> {
        self.devices
            .values()
            .flat_map(|d| {
                d.open_claims.iter().map(|c| Leak {
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
                if h.last_claim
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
            wait_errors: d.waits.errors,
            stuck_waits: d.stuck_waits,
            busy_pages_seen: d.busy_pages_seen,
            faults: d.faults,
            dm_members: d.members.iter().map(label).collect(),
            dm_parents: d.parents.iter().map(label).collect(),
            dm_taken: d.dm_taken,
            dm_dropped: d.dm_dropped,
            pagemaps: d.pagemaps.iter().copied().collect(),
            holder_failures: d.holder_failures,
        }
    }

    /// A pagemap's derived figures.
    pub fn pagemap_summary(&self, p: &PagemapState) -> PagemapSummary {
        PagemapSummary {
            identity: p.identity.clone(),
            pages: p.identity.pfn_range.map(|(s, e)| e.saturating_sub(s)),
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
        }
    }

    /// The whole state as one serializable value.
    pub fn summary(&self) -> Summary {
        Summary {
            totals: self.totals.clone(),
            drops: self.drops.clone(),
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
        }
    }
}
