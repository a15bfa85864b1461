//! Per-device state: a dax_device and the block device(s) it is known by.
use super::actor::Actor;
use super::histogram::LatencyHistogram;
use super::ring::BoundedRing;
use crate::event::{ClaimApi, Dev, WaitApi};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Stable id of a device record inside one [`super::Collector`] (ids are never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub u32);

/// What a device is known by. Any of these can be learned late; see the
/// identity-linking rules in the collector's module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceIdentity {
    /// `struct dax_device *` (0: not seen yet).
    pub dax_dev: u64,
    /// Block device `dev_t` (0: not seen yet).
    pub bdev: Dev,
    /// Disk name (`pmem0`, `dm-0`); empty when not seen yet.
    pub disk: String,
}

impl DeviceIdentity {
    /// `pmem0 (259:0)`, or whatever part is known.
    pub fn label(&self) -> String {
        match (self.disk.is_empty(), self.bdev.0 == 0) {
            (false, false) => format!("{} ({})", self.disk, self.bdev),
            (false, true) => self.disk.clone(),
            (true, false) => self.bdev.to_string(),
            (true, true) => format!("dax_dev {:#x}", self.dax_dev),
        }
    }

    /// True when `filter` (a disk name or `MAJ:MIN`) names this device.
    pub fn matches(&self, filter: &str) -> bool {
        (!self.disk.is_empty() && self.disk == filter)
            || (self.bdev.0 != 0 && self.bdev.to_string() == filter)
    }
}

/// A claim that is currently held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenClaim {
    /// Sequence number of the claim in this collector (links to history).
    pub seq: u64,
    /// Holder pointer; 0 when the API has none (5.10, ext4/dm on 6.1+).
    pub holder: u64,
    pub bdev: Dev,
    pub disk: String,
    pub api: ClaimApi,
    pub by: Actor,
}

/// How a claim attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimOutcome {
    Granted,
    Refused,
}

/// One claim attempt in a device's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRecord {
    pub seq: u64,
    pub holder: u64,
    pub bdev: Dev,
    pub disk: String,
    pub api: ClaimApi,
    pub outcome: ClaimOutcome,
    pub claimed: Actor,
    /// Set when a matching release was seen.
    pub released: Option<Actor>,
}

/// Claim and release counters of one device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Granted claims.
    pub claims: u64,
    /// Refused claims (held by someone else); never open.
    pub refused: u64,
    /// Releases that matched an open claim.
    pub releases: u64,
    /// Releases with no open claim to match.
    pub unmatched_releases: u64,
    /// The owner's last reference dropped at teardown: a holderless `put_dax`
    /// after `kill_dax` that matches no claim (device mapper's own dax_device
    /// at `dmsetup remove`). Not a claim release, and not a violation.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub owner_puts: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Balance {
    /// Granted claims not (yet) released.
    pub fn outstanding(&self) -> u64 {
        self.claims.saturating_sub(self.releases)
    }
}

/// Break-layout waits observed on a device's filesystem.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitStats {
    pub latency: LatencyHistogram,
    /// Waits that ended with an error (e.g. -EINTR).
    pub errors: u64,
    /// Busy pages hit across all waits.
    pub busy_hits: u64,
    /// The longest wait seen.
    pub longest: Option<WaitRecord>,
}

/// One finished wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRecord {
    pub ino: u64,
    pub dev: Dev,
    pub api: WaitApi,
    pub latency_ns: u64,
    pub ret: i64,
    pub busy_pfn: Option<u64>,
    /// The waiter; `ts_ns` is when the wait ended.
    pub waiter: Actor,
}

/// DAX fault counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub pte: u64,
    pub pmd: u64,
}

/// Everything known about one dax_device / block device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    pub id: DeviceId,
    pub identity: DeviceIdentity,
    /// When the record was created (first event that named it).
    pub first_seen_ns: u64,
    /// Last event that touched the record.
    pub last_seen_ns: u64,
    /// `alloc_dax` seen.
    pub allocated: Option<u64>,
    /// `kill_dax` seen (ts).
    pub killed: Option<u64>,
    pub balance: Balance,
    /// Claims currently held, oldest first.
    pub open_claims: Vec<OpenClaim>,
    /// Last claim attempts (bounded).
    pub history: BoundedRing<ClaimRecord>,
    pub waits: WaitStats,
    pub faults: FaultCounts,
    /// Stuck waits reported on this device.
    pub stuck_waits: u64,
    /// `busy-page` events on this device's filesystem.
    pub busy_pages_seen: u64,
    /// dm: member devices this (dm) device maps to.
    pub members: BTreeSet<DeviceId>,
    /// dm: devices that map onto this one.
    pub parents: BTreeSet<DeviceId>,
    /// Times device mapper took / dropped this device as a table member.
    pub dm_taken: u64,
    pub dm_dropped: u64,
    /// Pagemaps whose pages this device's filesystem was seen using.
    pub pagemaps: BTreeSet<u64>,
    /// `dax_holder_notify_failure` calls.
    pub holder_failures: u64,
}

impl DeviceState {
    pub(super) fn new(id: DeviceId, first_seen_ns: u64, history: usize) -> Self {
        Self {
            id,
            identity: DeviceIdentity::default(),
            first_seen_ns,
            last_seen_ns: first_seen_ns,
            allocated: None,
            killed: None,
            balance: Balance::default(),
            open_claims: Vec::new(),
            history: BoundedRing::new(history),
            waits: WaitStats::default(),
            faults: FaultCounts::default(),
            stuck_waits: 0,
            busy_pages_seen: 0,
            members: BTreeSet::new(),
            parents: BTreeSet::new(),
            dm_taken: 0,
            dm_dropped: 0,
            pagemaps: BTreeSet::new(),
            holder_failures: 0,
        }
    }

    /// The current holder: the newest open claim with a holder pointer, else
    /// the newest open claim (holderless kernels and APIs).
    pub fn current_holder(&self) -> Option<&OpenClaim> {
        self.open_claims
            .iter()
            .rev()
            .find(|c| c.holder != 0)
            .or_else(|| self.open_claims.last())
    }

    /// True when nothing but identity is known (a placeholder made from a
    /// `dev_t` alone), so it may be folded into a better-identified record.
    pub(super) fn is_placeholder(&self) -> bool {
        self.identity.dax_dev == 0 && self.open_claims.is_empty() && self.history.is_empty()
    }

    /// Folds the counters of a placeholder record into this one.
    pub(super) fn absorb(&mut self, other: DeviceState) {
        self.first_seen_ns = self.first_seen_ns.min(other.first_seen_ns);
        self.last_seen_ns = self.last_seen_ns.max(other.last_seen_ns);
        self.waits.latency.merge(&other.waits.latency);
        self.waits.errors += other.waits.errors;
        self.waits.busy_hits += other.waits.busy_hits;
        if let Some(w) = other.waits.longest
            && self
                .waits
                .longest
                .as_ref()
                .is_none_or(|l| w.latency_ns > l.latency_ns)
        {
            self.waits.longest = Some(w);
        }
        self.faults.pte += other.faults.pte;
        self.faults.pmd += other.faults.pmd;
        self.stuck_waits += other.stuck_waits;
        self.busy_pages_seen += other.busy_pages_seen;
        self.dm_taken += other.dm_taken;
        self.dm_dropped += other.dm_dropped;
        self.members.extend(other.members);
        self.parents.extend(other.parents);
        self.pagemaps.extend(other.pagemaps);
        self.holder_failures += other.holder_failures;
        if self.identity.bdev.0 == 0 {
            self.identity.bdev = other.identity.bdev;
        }
        if self.identity.disk.is_empty() {
            self.identity.disk = other.identity.disk;
        }
    }
}
