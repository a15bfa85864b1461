//! Identities: finding the device or pagemap record an event names, linking
//! a device's identities (dax_dev, block device, disk name), and evicting
//! records beyond the caps. See the module docs of `collector`.
use super::{Collector, DeviceId, DeviceState, PagemapState};
use crate::event::Dev;

impl Collector {
    pub(super) fn pagemap_mut(&mut self, pgmap: u64) -> Option<&mut PagemapState> {
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
    pub(super) fn device_for_dev(&mut self, dev: Dev, ts_ns: u64) -> Option<DeviceId> {
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
    pub(super) fn resolve(&mut self, dax_dev: u64, bdev: Dev, disk: &str, ts_ns: u64) -> DeviceId {
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
                self.remap_device(other, id);
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
    pub(super) fn prune_pagemaps(&mut self, keep: u64) {
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
