//! Anomalies the collector notices while folding events: the raw material of
//! `daxtrace check`. Each kind keeps a count and the first few examples, so a
//! runaway trace cannot grow memory.
use super::actor::Actor;
use super::device::{DeviceId, DeviceIdentity, OpenClaim};
use super::pins::Ownership;
use crate::event::{ClaimApi, Dev};
use dax_trace_common::field::StackId;
use serde::{Deserialize, Serialize};

/// A release that matched no open claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmatchedRelease {
    pub device: DeviceId,
    pub identity: DeviceIdentity,
    pub holder: u64,
    pub api: ClaimApi,
    pub by: Actor,
    /// The releaser's kernel stack (0: none).
    #[serde(default, skip_serializing_if = "StackId::is_none")]
    pub stack: StackId,
}

/// A second claim by a holder that already holds the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoubleClaim {
    pub device: DeviceId,
    pub identity: DeviceIdentity,
    pub holder: u64,
    pub first: OpenClaim,
    pub second: Actor,
    /// Whether the kernel granted the second claim.
    pub granted: bool,
}

/// A waiter the scanner reported: asleep on a page that is already idle (a
/// lost wakeup, `stuck_waits`), or asleep uninterruptibly on a page still
/// busy past the threshold (`blocked_waits`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StuckWaitRecord {
    pub device: Option<DeviceId>,
    pub identity: Option<DeviceIdentity>,
    pub dev: Dev,
    pub pgmap: u64,
    pub pfn: u64,
    pub page: u64,
    pub ino: u64,
    pub refcount: u64,
    pub waiter_tid: u32,
    /// The waiter's pid and comm, when its wait-begin was seen (or the
    /// wait was found at attach, or the report names the waiter).
    pub waiter: Option<Actor>,
    /// The wait was already in progress at attach (its start is unknown).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_attach: bool,
    pub wait_begin_ns: u64,
    /// When the stuck state was reported.
    pub reported_ns: u64,
    /// Who held the page when the stuck wait was reported: its open owners,
    /// or the last ones, already released (the pin that made it wait).
    #[serde(default = "unknown_owner")]
    pub owners: Ownership,
}

fn unknown_owner() -> Ownership {
    Ownership::Unknown
}

/// A wait longer than `CollectorConfig::slow_wait_ns`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowWait {
    pub device: Option<DeviceId>,
    pub identity: Option<DeviceIdentity>,
    pub record: super::device::WaitRecord,
}

/// A wait found in progress at attach that ended during the trace (its
/// latency is a lower bound). Not a violation: pre-existing state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedAttachWait {
    pub device: Option<DeviceId>,
    pub identity: Option<DeviceIdentity>,
    pub record: super::device::WaitRecord,
}

/// Count plus the first `cap` examples of one kind of finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sampled<T> {
    pub count: u64,
    pub examples: Vec<T>,
    cap: usize,
}

impl<T> Sampled<T> {
    pub fn new(cap: usize) -> Self {
        Self {
            count: 0,
            examples: Vec::new(),
            cap,
        }
    }

    pub fn push(&mut self, item: T) {
        self.count += 1;
        if self.examples.len() < self.cap {
            self.examples.push(item);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Everything anomalous seen so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    pub unmatched_releases: Sampled<UnmatchedRelease>,
    pub double_claims: Sampled<DoubleClaim>,
    pub stuck_waits: Sampled<StuckWaitRecord>,
    /// Pages their file let go while still busy (the hazard before 6.15).
    #[serde(default = "no_examples")]
    pub orphaned_pages: Sampled<super::OrphanedPage>,
    /// Uninterruptible waits blocked on a busy page past the stuck threshold.
    #[serde(default = "no_examples")]
    pub blocked_waits: Sampled<super::BlockedWaitRecord>,
    pub slow_waits: Sampled<SlowWait>,
    /// Waits found at attach that ended during the trace.
    #[serde(default = "no_examples", skip_serializing_if = "Sampled::is_empty")]
    pub attach_waits_ended: Sampled<EndedAttachWait>,
    /// Open claims dropped because a device exceeded
    /// `CollectorConfig::max_open_claims` (never expected in practice).
    pub open_claims_overflow: u64,
}

fn no_examples<T>() -> Sampled<T> {
    Sampled::new(0)
}

impl Findings {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            unmatched_releases: Sampled::new(cap),
            double_claims: Sampled::new(cap),
            stuck_waits: Sampled::new(cap),
            orphaned_pages: Sampled::new(cap),
            blocked_waits: Sampled::new(cap),
            slow_waits: Sampled::new(cap),
            attach_waits_ended: Sampled::new(cap),
            open_claims_overflow: 0,
        }
    }
}
