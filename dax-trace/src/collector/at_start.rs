//! The state at start: pagemaps, dax_devices (with the claims held on them),
//! mounts and dm tables that existed before the trace, as a live front end
//! read them at attach, and the `state-end` that closes a reading. Waits and
//! busy pages found at attach are in `at_start_pages`.
//!
//! Events before the first `state-end` belong to the state at start; later
//! ones are updates while running (a namespace, mount or dm table that came
//! or went). Only the state at start adds claims: claims made while running
//! are seen as `claim` events.
use super::device::{DmTarget, Mount, Presence};
use super::{Actor, ClaimOutcome, ClaimRecord, Collector, DeviceId, DeviceState, OpenClaim};
use crate::event::{
    ClaimApi, Event, StateDaxDevice, StateDmTarget, StateEnd, StateMount, StatePagemap,
};
use dax_trace_common::field::StackId;
use dax_trace_common::payload::state_bits;
use serde::{Deserialize, Serialize};

/// What the closing `state-end` of the state at start told: when it was
/// read, which sources could be read, what it found, how much of the pages
/// the census covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateAtStart {
    /// When the reading ended (its `state-end`).
    pub ts_ns: u64,
    /// `state_bits` of the sources that could be read.
    pub available: u32,
    /// Their names, and the names of those that could not be read here.
    pub available_sources: Vec<String>,
    pub unavailable_sources: Vec<String>,
    pub pagemaps: u32,
    pub dax_devices: u32,
    pub mounts: u32,
    pub dm_targets: u32,
    pub waits: u32,
    /// Census: busy pages found, pages examined, pages in FS-DAX pagemaps.
    pub busy_pages: u64,
    pub pages_scanned: u64,
    pub pages_total: u64,
    /// Time the reading took.
    pub elapsed_ns: u64,
    /// Updates while running seen after it.
    pub updates: u64,
}

impl StateAtStart {
    fn from_end(ts_ns: u64, e: &StateEnd) -> Self {
        let names = |present: bool| {
            state_bits::NAMES
                .iter()
                .filter(|(bit, _)| (e.available & bit != 0) == present)
                .map(|(_, name)| (*name).to_string())
                .collect()
        };
        Self {
            ts_ns,
            available: e.available,
            available_sources: names(true),
            unavailable_sources: names(false),
            pagemaps: e.pagemaps,
            dax_devices: e.dax_devices,
            mounts: e.mounts,
            dm_targets: e.dm_targets,
            waits: e.waits,
            busy_pages: e.busy_pages,
            pages_scanned: e.pages_scanned,
            pages_total: e.pages_total,
            elapsed_ns: e.elapsed_ns,
            updates: 0,
        }
    }

    /// True when the source of `bit` (a `state_bits` constant) was read.
    pub fn covers(&self, bit: u32) -> bool {
        self.available & bit != 0
    }
}

impl Collector {
    /// True while the events are those of the state at start (no
    /// `state-end` seen yet).
    fn reading_start(&self) -> bool {
        self.at_start.is_none() && self.state_updates == 0
    }

    pub(super) fn on_state_end(&mut self, ev: &Event, e: &StateEnd) {
        if e.reason == 0 && self.reading_start() {
            self.at_start = Some(StateAtStart::from_end(ev.ts_ns, e));
        } else {
            self.state_updates += 1;
            if let Some(s) = self.at_start.as_mut() {
                s.updates += 1;
            }
        }
    }

    pub(super) fn on_state_pagemap(&mut self, ev: &Event, s: &StatePagemap) {
        if s.pgmap == 0 {
            return;
        }
        let at_start = self.reading_start();
        let disk = s.disk.as_str();
        let device =
            (s.bdev.0 != 0 || !disk.is_empty()).then(|| self.resolve(0, s.bdev, disk, ev.ts_ns));
        if let Some(p) = self.pagemap_mut(s.pgmap) {
            let id = &mut p.identity;
            id.memory_type = Some(s.memory_type);
            id.fs_dax = Some(s.fs_dax.get());
            id.pfn_range = Some((s.pfn_start, s.pfn_end));
            id.nr_range = Some(s.nr_range);
            id.owner = s.owner;
            id.pages = Some(s.pages);
            id.disk = disk.to_string();
            id.backing = s.backing.as_str().to_string();
            id.kind =
                Some(s.kind.get()).filter(|k| *k != dax_trace_common::memory::MemoryKind::Unknown);
            id.driver = s.driver.as_str().to_string();
            if p.created_ns.is_none() && at_start {
                p.pre_existing = true;
            }
            if let Some(dev) = device {
                p.devices.insert(dev);
            }
        }
        if let Some(d) = device.and_then(|id| self.devices.get_mut(&id)) {
            d.pagemaps.insert(s.pgmap);
        }
    }

    pub(super) fn on_state_dax_device(&mut self, ev: &Event, s: &StateDaxDevice) {
        if s.dax_dev == 0 {
            return;
        }
        let at_start = self.reading_start();
        let id = self.resolve(s.dax_dev, s.bdev, s.disk.as_str(), ev.ts_ns);
        let has_holders = s.has_holders.get();
        let holder = if has_holders { s.holder } else { 0 };
        let max_open = self.config.max_open_claims.max(1);
        let first_seq = self.next_claim;
        let Some(d) = self.devices.get_mut(&id) else {
            return;
        };
        let seen_before = d.present.as_ref().is_some_and(|p| p.at_start);
        d.present = Some(Presence {
            ts_ns: ev.ts_ns,
            at_start: at_start || seen_before,
            alive: s.alive.get(),
            holder: s.holder,
            holder_ops: s.holder_ops,
            claims: s.claims,
            has_holders,
            size_bytes: s.size_bytes,
        });
        if !at_start || seen_before {
            return;
        }
        // The holder is one of the claims (xfs's mount); the others, and
        // every claim on a kernel without holders, are holderless.
        let held = s.claims.max(u32::from(holder != 0)) as usize;
        let held = held.min(max_open.saturating_sub(d.open_claims.len()));
        let mount = d.mount.as_ref().map(Mount::label).unwrap_or_default();
        let mut claims = Vec::with_capacity(held);
        for i in 0..held {
            let claim = OpenClaim {
                seq: first_seq + i as u64,
                holder: if i == 0 { holder } else { 0 },
                bdev: s.bdev,
                disk: s.disk.as_str().to_string(),
                api: ClaimApi::Unknown,
                by: Actor::of(ev),
                pre_existing: true,
                mount: if i == 0 { mount.clone() } else { String::new() },
                stack: StackId::NONE,
            };
            d.history.push(ClaimRecord {
                seq: claim.seq,
                holder: claim.holder,
                bdev: claim.bdev,
                disk: claim.disk.clone(),
                api: claim.api,
                outcome: ClaimOutcome::Granted,
                claimed: claim.by.clone(),
                released: None,
                pre_existing: true,
                mount: claim.mount.clone(),
            });
            claims.push(claim);
        }
        // Oldest first: they were taken before anything the trace saw.
        d.open_claims.splice(0..0, claims);
        d.balance.pre_existing += held as u64;
        self.next_claim += held as u64;
    }

    pub(super) fn on_state_mount(&mut self, ev: &Event, m: &StateMount) {
        let disk = m.disk.as_str();
        if m.dev.0 == 0 && disk.is_empty() {
            return;
        }
        let at_start = self.reading_start();
        let id = self.resolve(0, m.dev, disk, ev.ts_ns);
        let Some(d) = self.devices.get_mut(&id) else {
            return;
        };
        if !m.mounted.get() {
            d.mount = None;
            return;
        }
        let mount = Mount {
            fstype: m.fstype.as_str().to_string(),
            mount_point: m.mount_point.as_str().to_string(),
            dax: m.dax.get(),
            at_start,
            ts_ns: ev.ts_ns,
            dax_mode: None,
        };
        let label = mount.label();
        d.mount = Some(mount);
        if at_start {
            d.name_held_claim(label);
        }
    }

    pub(super) fn on_state_dm_target(&mut self, ev: &Event, t: &StateDmTarget) {
        let (dm_disk, member_disk) = (t.dm_disk.as_str(), t.member_disk.as_str());
        if (t.dm.0 == 0 && dm_disk.is_empty()) || (t.member.0 == 0 && member_disk.is_empty()) {
            return;
        }
        let at_start = self.reading_start();
        let parent = self.resolve(0, t.dm, dm_disk, ev.ts_ns);
        let member = self.resolve(0, t.member, member_disk, ev.ts_ns);
        if parent == member {
            return;
        }
        let target = DmTarget {
            target: t.target.as_str().to_string(),
            start_sector: t.start_sector,
            sectors: t.sectors,
            member,
            member_disk: member_disk.to_string(),
            member_dev: t.member,
            member_sector: t.member_sector,
            at_start,
        };
        let same = |a: &DmTarget| a.start_sector == t.start_sector && a.member == member;
        let present = t.present.get();
        let mut still_member = present;
        if let Some(d) = self.devices.get_mut(&parent) {
            if !t.dm_name.as_str().is_empty() {
                d.dm_name = t.dm_name.as_str().to_string();
            }
            d.dm_targets.retain(|a| !same(a));
            if present {
                d.dm_targets.push(target);
                d.dm_targets.sort_by_key(|a| a.start_sector);
                d.members.insert(member);
            } else {
                still_member = d.dm_targets.iter().any(|a| a.member == member);
                if !still_member {
                    d.members.remove(&member);
                }
            }
        }
        let name = match self.devices.get(&parent) {
            Some(p) if !p.dm_name.is_empty() => format!("dm table {} ({dm_disk})", p.dm_name),
            _ => format!("dm table of {dm_disk}"),
        };
        if let Some(d) = self.devices.get_mut(&member) {
            if still_member {
                d.parents.insert(parent);
                if at_start {
                    d.name_held_claim(name);
                }
            } else {
                d.parents.remove(&parent);
            }
        }
    }

    /// Points references to a folded record at the record it was folded into.
    pub(super) fn remap_device(&mut self, old: DeviceId, new: DeviceId) {
        for p in self.pagemaps.values_mut() {
            if p.devices.remove(&old) {
                p.devices.insert(new);
            }
        }
        for d in self.devices.values_mut() {
            for set in [&mut d.members, &mut d.parents] {
                if set.remove(&old) && d.id != new {
                    set.insert(new);
                }
            }
            for t in &mut d.dm_targets {
                if t.member == old {
                    t.member = new;
                }
            }
        }
    }
}

impl DeviceState {
    /// Names the claim held since before the trace that `what` (a mount or
    /// a dm table found by the state) is: the holder's, when the device has
    /// one (xfs passes its mount), else the first holderless one not named
    /// yet (ext4, dm).
    fn name_held_claim(&mut self, what: String) {
        let holder = self.present.as_ref().map_or(0, |p| p.holder);
        let unnamed = |c: &OpenClaim| c.pre_existing && c.mount.is_empty();
        let pick = self
            .open_claims
            .iter()
            .position(|c| unnamed(c) && holder != 0 && c.holder == holder)
            .or_else(|| {
                self.open_claims
                    .iter()
                    .position(|c| unnamed(c) && c.holder == 0)
            });
        if let Some(i) = pick {
            let claim = &mut self.open_claims[i];
            claim.mount = what.clone();
            let seq = claim.seq;
            if let Some(r) = self.history.iter_mut().find(|r| r.seq == seq) {
                r.mount = what;
            }
        }
    }
}
