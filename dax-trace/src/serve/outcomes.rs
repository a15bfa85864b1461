//! Counters the exporter needs that the collector does not keep: claims and
//! releases split by API and outcome, faults by size and result (a
//! `fault-counts` event counts as its `count` faults), and events
//! per attach point. They are learned by comparing the collector's device
//! counters before and after each event, so the collector stays the one
//! place that decides what a claim or a release means.
//!
//! Every map is keyed by bounded labels (device name, API, outcome, probe)
//! and capped at [`MAX_SERIES`] keys; beyond that new keys fold into
//! device `other`, so a stream of new device names cannot grow the state.
use std::collections::BTreeMap;

use crate::collector::{Balance, Collector, DeviceState};
use crate::event::{ClaimApi, Dev, Event, EventBody};

/// Most keys per map (far above any real host: 256 devices x a few APIs).
pub const MAX_SERIES: usize = 2048;

/// Device label used when a map is full or no device could be told.
pub const OTHER_DEVICE: &str = "other";

/// (device, api, outcome) -> count.
pub type ApiOutcomeCounts = BTreeMap<(String, &'static str, &'static str), u64>;

/// Claims, releases and faults by device, API and outcome, and events per
/// attach point: counted beside the collector; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// Claims by device, API and outcome (`granted`, `refused`).
    pub claims: ApiOutcomeCounts,
    /// Releases by device, API and outcome (`matched`, `unmatched`, `owner-put`).
    pub releases: ApiOutcomeCounts,
    /// DAX faults by device, size (`pte`, `pmd`) and result class.
    pub faults: ApiOutcomeCounts,
    /// Events received per attach point index.
    pub events_by_point: BTreeMap<u16, u64>,
}

/// The label a device is shown under: its disk name, else `MAJ:MIN`.
pub fn device_label(d: &DeviceState) -> String {
    if !d.identity.disk.is_empty() {
        d.identity.disk.clone()
    } else if d.identity.bdev.0 != 0 {
        d.identity.bdev.to_string()
    } else {
        "unknown".to_string()
    }
}

/// The device whose block device is `dev`.
pub fn device_by_bdev(c: &Collector, dev: Dev) -> Option<&DeviceState> {
    c.devices().find(|d| d.identity.bdev == dev)
}

/// What a claim or release event names, to find its device.
enum Target {
    Claim {
        dax_dev: u64,
        bdev: Dev,
        disk: String,
        api: ClaimApi,
    },
    Release {
        dax_dev: u64,
        api: ClaimApi,
    },
    /// `count` faults (1 for a `Fault` event, the delta of a `FaultCounts`).
    Fault {
        dev: Dev,
        pmd: bool,
        result: u32,
        count: u64,
    },
    Other,
}

fn target_of(ev: &Event) -> Target {
    match &ev.body {
        EventBody::Claim(c) => Target::Claim {
            dax_dev: c.dax_dev,
            bdev: c.bdev,
            disk: c.disk.to_string(),
            api: c.api.get(),
        },
        EventBody::Release(r) => Target::Release {
            dax_dev: r.dax_dev,
            api: r.api.get(),
        },
        EventBody::Fault(f) => Target::Fault {
            dev: f.dev,
            pmd: f.pmd.get(),
            result: f.result,
            count: 1,
        },
        EventBody::FaultCounts(c) => Target::Fault {
            dev: c.dev,
            pmd: c.pmd.get(),
            result: c.result,
            count: c.count,
        },
        _ => Target::Other,
    }
}

fn claim_device<'c>(
    c: &'c Collector,
    dax_dev: u64,
    bdev: Dev,
    disk: &str,
) -> Option<&'c DeviceState> {
    (dax_dev != 0)
        .then(|| c.device_by_dax(dax_dev))
        .flatten()
        .or_else(|| (!disk.is_empty()).then(|| c.device_by_name(disk)).flatten())
        .or_else(|| (bdev.0 != 0).then(|| device_by_bdev(c, bdev)).flatten())
}

fn balance_of(d: Option<&DeviceState>) -> Balance {
    d.map(|d| d.balance.clone()).unwrap_or_default()
}

/// kebab-case name of a claim API, as in the JSON forms.
pub fn api_name(api: ClaimApi) -> &'static str {
    match api {
        ClaimApi::FsDaxGetByBdev => "fs-dax-get-by-bdev",
        ClaimApi::DaxGetByHost => "dax-get-by-host",
        ClaimApi::FsDaxGet => "fs-dax-get",
        ClaimApi::SeedFsDaxClaim => "seed-fs-dax-claim",
        ClaimApi::SeedDmClaim => "seed-dm-claim",
        ClaimApi::FsPutDax => "fs-put-dax",
        ClaimApi::PutDax => "put-dax",
        ClaimApi::Unknown => "unknown",
    }
}

// vm_fault_t bits (include/linux/mm_types.h): stable since 4.x.
const VM_FAULT_OOM: u32 = 0x1;
const VM_FAULT_SIGBUS: u32 = 0x2;
const VM_FAULT_HWPOISON: u32 = 0x10;
const VM_FAULT_HWPOISON_LARGE: u32 = 0x20;
const VM_FAULT_SIGSEGV: u32 = 0x40;
const VM_FAULT_NOPAGE: u32 = 0x100;
const VM_FAULT_RETRY: u32 = 0x400;
const VM_FAULT_FALLBACK: u32 = 0x800;

/// The result class of a fault's `vm_fault_t`: `error`, `fallback`, `retry`,
/// `nopage` or `ok`.
pub fn fault_result(result: u32) -> &'static str {
    if result
        & (VM_FAULT_OOM
            | VM_FAULT_SIGBUS
            | VM_FAULT_SIGSEGV
            | VM_FAULT_HWPOISON
            | VM_FAULT_HWPOISON_LARGE)
        != 0
    {
        "error"
    } else if result & VM_FAULT_FALLBACK != 0 {
        "fallback"
    } else if result & VM_FAULT_RETRY != 0 {
        "retry"
    } else if result & VM_FAULT_NOPAGE != 0 {
        "nopage"
    } else {
        "ok"
    }
}

fn bump(map: &mut ApiOutcomeCounts, device: String, a: &'static str, b: &'static str) {
    add(map, device, a, b, 1);
}

fn add(map: &mut ApiOutcomeCounts, device: String, a: &'static str, b: &'static str, n: u64) {
    let device = if map.len() >= MAX_SERIES && !map.contains_key(&(device.clone(), a, b)) {
        OTHER_DEVICE.to_string()
    } else {
        device
    };
    *map.entry((device, a, b)).or_default() += n;
}

impl OutcomeCounts {
    /// Folds `ev` into `collector` and learns the split counters from it.
    pub fn ingest(&mut self, collector: &mut Collector, ev: &Event) {
        if self.events_by_point.len() < MAX_SERIES || self.events_by_point.contains_key(&ev.point) {
            *self.events_by_point.entry(ev.point).or_default() += 1;
        }
        let target = target_of(ev);
        let before = match &target {
            Target::Claim {
                dax_dev,
                bdev,
                disk,
                ..
            } => balance_of(claim_device(collector, *dax_dev, *bdev, disk)),
            Target::Release { dax_dev, .. } => balance_of(collector.device_by_dax(*dax_dev)),
            _ => Balance::default(),
        };
        collector.ingest(ev);
        match target {
            Target::Claim {
                dax_dev,
                bdev,
                disk,
                api,
            } => {
                let Some(d) = claim_device(collector, dax_dev, bdev, &disk) else {
                    return;
                };
                let after = &d.balance;
                let outcome = if after.claims > before.claims {
                    "granted"
                } else if after.refused > before.refused {
                    "refused"
                } else {
                    return;
                };
                bump(&mut self.claims, device_label(d), api_name(api), outcome);
            }
            Target::Release { dax_dev, api } => {
                let Some(d) = collector.device_by_dax(dax_dev) else {
                    return;
                };
                let after = &d.balance;
                let outcome = if after.releases > before.releases {
                    "matched"
                } else if after.unmatched_releases > before.unmatched_releases {
                    "unmatched"
                } else if after.owner_puts > before.owner_puts {
                    "owner-put"
                } else {
                    return;
                };
                bump(&mut self.releases, device_label(d), api_name(api), outcome);
            }
            Target::Fault {
                dev,
                pmd,
                result,
                count,
            } => {
                let device = device_by_bdev(collector, dev)
                    .map_or_else(|| OTHER_DEVICE.to_string(), device_label);
                let size = if pmd { "pmd" } else { "pte" };
                add(&mut self.faults, device, size, fault_result(result), count);
            }
            Target::Other => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_results_are_classified_by_their_worst_bit() {
        assert_eq!(fault_result(0), "ok");
        assert_eq!(fault_result(VM_FAULT_NOPAGE), "nopage");
        assert_eq!(fault_result(VM_FAULT_FALLBACK), "fallback");
        assert_eq!(fault_result(VM_FAULT_FALLBACK | VM_FAULT_SIGBUS), "error");
        assert_eq!(fault_result(VM_FAULT_RETRY), "retry");
    }

    #[test]
    fn a_full_map_folds_new_devices_into_other() {
        let mut map = ApiOutcomeCounts::new();
        for i in 0..MAX_SERIES + 10 {
            bump(&mut map, format!("pmem{i}"), "put-dax", "matched");
        }
        assert_eq!(map.len(), MAX_SERIES + 1);
        assert_eq!(
            map[&(OTHER_DEVICE.to_string(), "put-dax", "matched")],
            10,
            "the ten past the cap"
        );
    }
}
