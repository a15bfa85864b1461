//! Per-device state: a dax_device and the block device(s) it is known by.
use super::actor::Actor;
use super::histogram::LatencyHistogram;
use super::ring::BoundedRing;
use crate::event::{ClaimApi, Dev, WaitApi};
use dax_trace_common::field::StackId;
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
    /// For a claim made during the trace, the claimer; for one held since
    /// before the trace, the state reading that found it.
    pub by: Actor,
    /// Held since before the trace: found by the state at start, not claimed
    /// during it. Its release matches like any claim; still open at the end,
    /// it is pre-existing state, not a leak.
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre_existing: bool,
    /// The filesystem this claim is, when the state told it (`xfs on /mnt`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount: String,
    /// The claimer's kernel stack (0: none; traces before version 3).
    #[serde(default, skip_serializing_if = "StackId::is_none")]
    pub stack: StackId,
}

pub(super) fn is_false(b: &bool) -> bool {
    !*b
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
    /// Held since before the trace (`claimed` is the state reading).
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre_existing: bool,
    /// The filesystem this claim is, when the state told it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mount: String,
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
    /// Claims held since before the trace (from the state at start); not in
    /// `claims`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pre_existing: u64,
    /// Releases (counted in `releases`) that matched a claim held since
    /// before the trace.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pre_existing_released: u64,
}

pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Balance {
    /// Claims (granted during the trace or held since before it) not (yet)
    /// released.
    pub fn outstanding(&self) -> u64 {
        (self.claims + self.pre_existing).saturating_sub(self.releases)
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
    /// The wait was already in progress at attach: its true start is
    /// unknown, so `latency_ns` is a lower bound.
    #[serde(default, skip_serializing_if = "is_false")]
    pub lower_bound: bool,
}

/// Flush requests of a virtio-pmem device to its host (`pmem-flush`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushStats {
    /// Entry to return of each flush, the host's answer included.
    pub latency: LatencyHistogram,
    /// Flushes the host failed (-EIO).
    pub errors: u64,
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
    /// Host flush requests (virtio-pmem only).
    #[serde(default)]
    pub flushes: FlushStats,
    /// Stuck waits reported on this device.
    pub stuck_waits: u64,
    /// Pages its files let go while still busy (`page-orphaned`).
    #[serde(default)]
    pub orphaned_pages: u64,
    /// Uninterruptible waits found blocked on a busy page (`blocked-wait`).
    #[serde(default)]
    pub blocked_waits: u64,
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
    /// What the state at start (or an update) said about the dax_device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<Presence>,
    /// The filesystem mounted on the device, from the state (mountinfo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<Mount>,
    /// dm: the name (`/dev/mapper/NAME`) and the targets of its table, from
    /// the state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dm_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dm_targets: Vec<DmTarget>,
}

/// A dax_device as the state found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// When it was read.
    pub ts_ns: u64,
    /// Read as part of the state at start (false: an update while running).
    pub at_start: bool,
    pub alive: bool,
    pub holder: u64,
    pub holder_ops: u64,
    /// Claims held when read.
    pub claims: u32,
    /// The kernel keeps a holder per device (6.1+).
    pub has_holders: bool,
    /// Size of the disk (0: unknown).
    pub size_bytes: u64,
}

/// A filesystem mounted on a device.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub fstype: String,
    pub mount_point: String,
    /// Mounted with DAX on.
    pub dax: bool,
    /// Mounted since before the trace (from the state at start).
    pub at_start: bool,
    /// When the state told it.
    pub ts_ns: u64,
    /// Whether DAX is in effect there (`state-dax-mode`; None: not told,
    /// as in traces recorded before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dax_mode: Option<crate::daxmode::DaxMode>,
}

impl Mount {
    /// `xfs on /mnt/x` (`, no dax` when mounted without DAX).
    pub fn label(&self) -> String {
        format!(
            "{} on {}{}",
            self.fstype,
            self.mount_point,
            if self.dax { "" } else { " (no dax)" }
        )
    }
}

/// One target of a dm table, from the state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmTarget {
    /// `linear`, `striped`...
    pub target: String,
    /// Where the target starts in the dm device and its length (sectors).
    pub start_sector: u64,
    pub sectors: u64,
    /// The member device record and its disk and dev_t.
    pub member: DeviceId,
    pub member_disk: String,
    pub member_dev: Dev,
    /// Where it maps to on the member (sectors; linear only).
    pub member_sector: u64,
    /// Loaded since before the trace.
    pub at_start: bool,
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
            flushes: FlushStats::default(),
            stuck_waits: 0,
            orphaned_pages: 0,
            blocked_waits: 0,
            busy_pages_seen: 0,
            members: BTreeSet::new(),
            parents: BTreeSet::new(),
            dm_taken: 0,
            dm_dropped: 0,
            pagemaps: BTreeSet::new(),
            holder_failures: 0,
            present: None,
            mount: None,
            dm_name: String::new(),
            dm_targets: Vec::new(),
        }
    }

    /// The device's size when the state told it.
    pub fn size_bytes(&self) -> u64 {
        self.present.as_ref().map_or(0, |p| p.size_bytes)
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
        self.orphaned_pages += other.orphaned_pages;
        self.blocked_waits += other.blocked_waits;
        self.busy_pages_seen += other.busy_pages_seen;
        self.dm_taken += other.dm_taken;
        self.dm_dropped += other.dm_dropped;
        self.members.extend(other.members);
        self.parents.extend(other.parents);
        self.pagemaps.extend(other.pagemaps);
        self.holder_failures += other.holder_failures;
        self.present = self.present.take().or(other.present);
        self.mount = self.mount.take().or(other.mount);
        if self.dm_name.is_empty() {
            self.dm_name = other.dm_name;
        }
        self.dm_targets.extend(other.dm_targets);
        if self.identity.bdev.0 == 0 {
            self.identity.bdev = other.identity.bdev;
        }
        if self.identity.disk.is_empty() {
            self.identity.disk = other.identity.disk;
        }
    }
}
