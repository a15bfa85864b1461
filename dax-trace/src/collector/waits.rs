//! Break-layouts waits: who waits for a file's pages to go idle, and for how long.
use super::{Actor, Collector, EndedAttachWait, OpenWait, SlowWait, WaitRecord};
use crate::event::{Event, WaitBegin, WaitEnd};

impl Collector {
    pub(super) fn on_wait_begin(&mut self, ev: &Event, w: &WaitBegin) {
        self.open_wait(
            ev.tid,
            OpenWait {
                inode: w.inode,
                ino: w.ino,
                dev: w.dev,
                api: w.api.get(),
                begin: Actor::of(ev),
                at_attach: None,
            },
        );
        // Name the device early so it shows while the wait is open.
        self.device_for_dev(w.dev, ev.ts_ns);
    }

    /// Remembers `tid`'s open wait (the oldest goes beyond the cap).
    pub(super) fn open_wait(&mut self, tid: u32, wait: OpenWait) {
        if self.open_waits.len() >= self.config.max_open_waits.max(1)
            && !self.open_waits.contains_key(&tid)
        {
            let oldest = self
                .open_waits
                .iter()
                .min_by_key(|(_, w)| w.begin.ts_ns)
                .map(|(tid, _)| *tid);
            if let Some(tid) = oldest {
                self.open_waits.remove(&tid);
                self.totals.evicted_open_waits += 1;
            }
        }
        self.open_waits.insert(tid, wait);
    }

    pub(super) fn on_wait_end(&mut self, ev: &Event, w: &WaitEnd) {
        let record = WaitRecord {
            ino: w.ino,
            dev: w.dev,
            api: w.api.get(),
            latency_ns: w.latency_ns,
            ret: w.ret,
            busy_pfn: w.busy_pfn.get(),
            waiter: Actor::of(ev),
            lower_bound: false,
        };
        self.open_waits.remove(&ev.tid);
        self.finish_wait(record, w.busy_hits, ev.ts_ns);
    }

    /// Folds a finished wait into its device's figures (and the slow waits),
    /// and clears its file's busy pages when the waiter got through.
    pub(super) fn finish_wait(&mut self, record: WaitRecord, busy_hits: u64, ts_ns: u64) {
        let device = self.device_for_dev(record.dev, ts_ns);
        if record.ret == 0 {
            // The waiter got through: no page of this file is busy any more.
            for p in self.pagemaps.values_mut() {
                let done: Vec<u64> = p
                    .busy
                    .values()
                    .filter(|b| b.dev == record.dev && b.ino == record.ino)
                    .map(|b| b.pfn)
                    .collect();
                for pfn in done {
                    p.clear_busy(pfn, ts_ns);
                }
            }
        }
        let identity = device.and_then(|id| {
            let d = self.devices.get_mut(&id)?;
            let waits = &mut d.waits;
            waits.latency.record(record.latency_ns);
            waits.busy_hits += busy_hits;
            if record.ret != 0 {
                waits.errors += 1;
            }
            if waits
                .longest
                .as_ref()
                .is_none_or(|l| record.latency_ns > l.latency_ns)
            {
                waits.longest = Some(record.clone());
            }
            Some(d.identity.clone())
        });
        if record.lower_bound {
            self.findings.attach_waits_ended.push(EndedAttachWait {
                device,
                identity: identity.clone(),
                record: record.clone(),
            });
        }
        if self
            .config
            .slow_wait_ns
            .is_some_and(|limit| record.latency_ns >= limit)
        {
            self.findings.slow_waits.push(SlowWait {
                device,
                identity,
                record,
            });
        }
    }
}
