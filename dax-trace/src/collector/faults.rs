//! DAX faults, virtio-pmem flushes and memory failures (on a pfn, and as
//! told to a holder): what the device's memory costs and what it suffered.
//! Faults arrive one record each (`fault`, older traces and `record
//! --fault-events`) or counted in the kernel (`fault-counts`, a number of
//! faults of one device, size and result): both add to the same counters.
use super::{Collector, MemoryFailureRecord};
use crate::event::{Dev, Event, Fault, FaultCounts, HolderNotifyFailure, MemoryFailure, PmemFlush};

impl Collector {
    pub(super) fn on_fault(&mut self, ev: &Event, f: &Fault) {
        self.add_faults(ev, f.dev, f.pmd.get(), 1);
    }

    /// `c.count` faults, as many `Fault` events would count.
    pub(super) fn on_fault_counts(&mut self, ev: &Event, c: &FaultCounts) {
        self.add_faults(ev, c.dev, c.pmd.get(), c.count);
    }

    fn add_faults(&mut self, ev: &Event, dev: Dev, pmd: bool, n: u64) {
        if let Some(d) = self
            .device_for_dev(dev, ev.ts_ns)
            .and_then(|id| self.devices.get_mut(&id))
        {
            if pmd {
                d.faults.pmd += n;
            } else {
                d.faults.pte += n;
            }
        }
    }

    /// A flush names its disk where the kernel's bio does (5.12+); one
    /// without counts toward the totals only.
    pub(super) fn on_pmem_flush(&mut self, ev: &Event, f: &PmemFlush) {
        let Some(d) = self
            .device_for_dev(f.dev, ev.ts_ns)
            .and_then(|id| self.devices.get_mut(&id))
        else {
            return;
        };
        d.flushes.latency.record(f.latency_ns);
        if f.ret != 0 {
            d.flushes.errors += 1;
        }
    }

    /// A memory failure carries only a pfn: it is the pagemap's whose range holds it.
    pub(super) fn on_memory_failure(&mut self, ev: &Event, m: &MemoryFailure) {
        let record = MemoryFailureRecord {
            pfn: m.pfn,
            mf_type: m.mf_type,
            result: m.result,
            ts_ns: ev.ts_ns,
        };
        match self.pagemaps.values_mut().find(|p| p.contains_pfn(m.pfn)) {
            Some(p) => {
                p.memory_failures += 1;
                p.last_memory_failure = Some(record);
            }
            None => self.totals.unattributed_memory_failures += 1,
        }
    }

    pub(super) fn on_holder_notify_failure(&mut self, ev: &Event, h: &HolderNotifyFailure) {
        let id = self.resolve(h.dax_dev, Dev(0), "", ev.ts_ns);
        if let Some(d) = self.devices.get_mut(&id) {
            d.holder_failures += 1;
        }
    }
}
