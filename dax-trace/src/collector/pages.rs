//! Pagemaps and their pages: birth and death of a `dev_pagemap`, busy pages,
//! idle transitions, put counters and waiters stuck on idle pages.
use super::{Actor, BusyPage, Collector, PagemapIdentity, PagemapState, StuckWaitRecord};
use crate::event::{self, Event, PageIdle, PagemapCreate, PagemapDestroy, PutStats, StuckWait};

impl Collector {
    pub(super) fn on_pagemap_create(&mut self, ev: &Event, c: &PagemapCreate) {
        if c.ret != 0 || c.pgmap == 0 {
            self.totals.failed_pagemaps += 1;
            return;
        }
        let mut p = PagemapState::new(c.pgmap);
        p.identity = PagemapIdentity {
            pgmap: c.pgmap,
            memory_type: Some(c.memory_type),
            fs_dax: Some(c.fs_dax.get()),
            pfn_range: Some((c.pfn_start, c.pfn_end)),
            nr_range: Some(c.nr_range),
            owner: c.owner,
            // Unknown: a trace from before kinds (or a type BTF did not name).
            kind: Some(c.kind.get())
                .filter(|k| *k != dax_trace_common::memory::MemoryKind::Unknown),
            backing: c.device.as_str().to_string(),
            driver: c.driver.as_str().to_string(),
            ..PagemapIdentity::default()
        };
        p.created_ns = Some(ev.ts_ns);
        // A pointer seen die is a pagemap born again (a device-dax device
        // rebound): keep what it was.
        let p = match self.pagemaps.remove(&c.pgmap) {
            Some(old) if old.destroyed_ns.is_some() => old.reborn_as(p),
            _ => p,
        };
        self.pagemaps.insert(c.pgmap, p);
        self.prune_pagemaps(c.pgmap);
    }

    pub(super) fn on_pagemap_destroy(&mut self, ev: &Event, d: &PagemapDestroy) {
        if let Some(p) = self.pagemap_mut(d.pgmap) {
            p.destroyed_ns = Some(ev.ts_ns);
            p.busy.clear();
        }
    }

    pub(super) fn on_page_idle(&mut self, ev: &Event, i: &PageIdle) {
        if let Some(p) = self.pagemap_mut(i.pgmap) {
            p.idle_transitions += 1;
            p.clear_busy(i.pfn, ev.ts_ns);
        }
        self.close_owners_on_idle(i.pfn, ev.ts_ns);
    }

    pub(super) fn on_busy_page(&mut self, ev: &Event, b: &event::BusyPage) {
        let device = self.device_for_dev(b.dev, ev.ts_ns);
        let cap = self.config.max_busy_pages;
        if let Some(p) = self.pagemap_mut(b.pgmap) {
            p.mark_busy(
                BusyPage {
                    pfn: b.pfn,
                    page: b.page,
                    mapping: b.mapping,
                    ino: b.ino,
                    index: b.index.get(),
                    dev: b.dev,
                    since_ns: ev.ts_ns,
                    refcount: b.refcount,
                    hits: 1,
                    stuck: false,
                    seen_by: Actor::of(ev),
                },
                cap,
            );
            if let Some(id) = device {
                p.devices.insert(id);
            }
        }
        if let Some(d) = device.and_then(|id| self.devices.get_mut(&id)) {
            d.busy_pages_seen += 1;
            if b.pgmap != 0 {
                d.pagemaps.insert(b.pgmap);
            }
        }
    }

    pub(super) fn on_put_stats(&mut self, s: &PutStats) {
        if let Some(p) = self.pagemap_mut(s.pgmap) {
            p.puts = s.puts;
            p.idles = s.idles;
        }
    }

    pub(super) fn on_stuck_wait(&mut self, ev: &Event, s: &StuckWait) {
        let device = self.device_for_dev(s.dev, ev.ts_ns);
        if let Some(p) = self.pagemap_mut(s.pgmap)
            && let Some(b) = p.busy.get_mut(&s.pfn)
        {
            b.stuck = true;
        }
        let identity = device.and_then(|id| {
            let d = self.devices.get_mut(&id)?;
            d.stuck_waits += 1;
            Some(d.identity.clone())
        });
        let open = self.open_waits.get(&s.waiter_tid);
        let mut owners = self.ownership_during(s.pfn, s.wait_begin_ns, ev.ts_ns);
        // A wait found asleep at attach on this page: it was busy before.
        if matches!(
            owners,
            super::Ownership::Unknown | super::Ownership::NotTraced
        ) && open.is_some_and(|w| w.at_attach.as_ref().is_some_and(|a| a.pfn == s.pfn))
        {
            owners = super::Ownership::PinnedBeforeAttach;
        }
        self.findings.stuck_waits.push(StuckWaitRecord {
            device,
            identity,
            dev: s.dev,
            pgmap: s.pgmap,
            pfn: s.pfn,
            page: s.page,
            ino: s.ino,
            refcount: s.refcount,
            waiter_tid: s.waiter_tid,
            // The waiter's wait-begin (or the wait found at attach); a stuck
            // wait userspace reports carries the waiter in its header.
            waiter: open
                .map(|w| w.begin.clone())
                .or_else(|| (ev.tid == s.waiter_tid && s.waiter_tid != 0).then(|| Actor::of(ev))),
            at_attach: open.is_some_and(|w| w.at_attach.is_some()),
            wait_begin_ns: s.wait_begin_ns,
            reported_ns: ev.ts_ns,
            owners,
        });
    }
}
