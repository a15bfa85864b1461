//! Claims and releases of dax_devices, and the device lifecycle events that
//! decide how a release is read (allocation, kill, binding to a disk).
use super::{
    Actor, ClaimOutcome, ClaimRecord, Collector, DoubleClaim, OpenClaim, UnmatchedRelease,
};
use crate::event::{Claim, ClaimApi, DaxAddHost, DaxAlloc, DaxKill, Dev, Event, Release};

impl Collector {
    pub(super) fn on_claim(&mut self, ev: &Event, c: &Claim) {
        let (bdev, disk) = (c.bdev, c.disk.as_str());
        let granted = c.granted.get() && c.dax_dev != 0;
        // Every ext4/xfs mount asks for a dax_device, DAX or not: a refused
        // claim on a device never seen is a lookup of a non-DAX disk, not
        // worth a record.
        let known = (bdev.0 != 0 && self.by_bdev.contains_key(&bdev))
            || (!disk.is_empty() && self.by_disk.contains_key(disk));
        if !granted && !known {
            self.totals.refused_unknown_devices += 1;
            return;
        }
        let id = self.resolve(if granted { c.dax_dev } else { 0 }, bdev, disk, ev.ts_ns);
        let seq = self.next_claim;
        self.next_claim += 1;
        let max_open = self.config.max_open_claims;
        let (holder, api) = (c.holder, c.api.get());
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
                pre_existing: false,
                mount: String::new(),
                stack: c.stack,
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
            pre_existing: false,
            mount: String::new(),
        });
    }

    pub(super) fn on_release(&mut self, ev: &Event, r: &Release) {
        let (dax_dev, holder, api) = (r.dax_dev, r.holder, r.api.get());
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
                if claim.pre_existing {
                    d.balance.pre_existing_released += 1;
                }
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
                    stack: r.stack,
                });
            }
        }
    }

    pub(super) fn on_dax_alloc(&mut self, ev: &Event, a: &DaxAlloc) {
        // A pointer whose record was killed is a new device (pointer reuse).
        if let Some(old) = self.by_dax.get(&a.dax_dev).copied()
            && self.devices.get(&old).is_some_and(|d| d.killed.is_some())
        {
            self.by_dax.remove(&a.dax_dev);
        }
        let id = self.resolve(a.dax_dev, Dev(0), "", ev.ts_ns);
        if let Some(d) = self.devices.get_mut(&id) {
            d.allocated = Some(ev.ts_ns);
        }
    }

    pub(super) fn on_dax_kill(&mut self, ev: &Event, k: &DaxKill) {
        let id = self.resolve(k.dax_dev, Dev(0), "", ev.ts_ns);
        if let Some(d) = self.devices.get_mut(&id) {
            d.killed = Some(ev.ts_ns);
        }
    }

    pub(super) fn on_dax_add_host(&mut self, ev: &Event, h: &DaxAddHost) {
        self.resolve(h.dax_dev, Dev(0), h.disk.as_str(), ev.ts_ns);
    }
}
