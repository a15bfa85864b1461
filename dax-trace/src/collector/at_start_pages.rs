//! Pages and waits found at attach: break-layouts waits already in progress
//! (they become open waits whose start is a lower bound) and the census of
//! pages busy at start (kept per pagemap, bounded).
use super::{Actor, BusyPage, Collector, OpenWait, StartBusyPage, WaitAtAttach, WaitRecord};
use crate::event::{Event, StateBusyPage, StateWait, WaitApi};

impl Collector {
    pub(super) fn on_state_wait(&mut self, ev: &Event, w: &StateWait) {
        let tid = if w.waiter_tid != 0 {
            w.waiter_tid
        } else {
            ev.tid
        };
        if w.ended.get() {
            self.end_wait_found_at_attach(ev, tid);
            return;
        }
        // A wait-begin the probes saw (attached before the reading) knows
        // the true start: the state adds nothing to it.
        if self
            .open_waits
            .get(&tid)
            .is_some_and(|w| w.at_attach.is_none())
        {
            return;
        }
        let begin = Actor {
            ts_ns: ev.ts_ns.saturating_sub(w.slept_ns),
            tid,
            ..Actor::of(ev)
        };
        let at_attach = WaitAtAttach {
            found_ns: ev.ts_ns,
            pgmap: w.pgmap,
            pfn: w.pfn,
            index: w.index.get(),
            refcount: w.refcount,
            slept_ns: w.slept_ns,
            idle: w.idle.get(),
        };
        self.open_wait(
            tid,
            OpenWait {
                inode: 0,
                ino: w.ino,
                dev: w.dev,
                // The only uninterruptible wait for idle FS-DAX pages is
                // the eviction's (dax_break_layout_final, 6.15+).
                api: if w.uninterruptible.get() {
                    WaitApi::DaxBreakLayoutFinal
                } else {
                    WaitApi::Unknown
                },
                begin: begin.clone(),
                at_attach: Some(at_attach),
            },
        );
        let device = self.device_for_dev(w.dev, ev.ts_ns);
        // The page it sleeps on is busy (or idle and the wakeup lost): the
        // page a `stuck-wait` on it names.
        let cap = self.config.max_busy_pages;
        if let Some(p) = self.pagemap_mut(w.pgmap) {
            p.mark_busy(
                BusyPage {
                    pfn: w.pfn,
                    page: w.page,
                    mapping: 0,
                    ino: w.ino,
                    index: w.index.get(),
                    dev: w.dev,
                    since_ns: begin.ts_ns,
                    refcount: w.refcount,
                    hits: 1,
                    stuck: false,
                    seen_by: begin,
                },
                cap,
            );
            if let Some(id) = device {
                p.devices.insert(id);
            }
        }
        if let Some(d) = device.and_then(|id| self.devices.get_mut(&id))
            && w.pgmap != 0
        {
            d.pagemaps.insert(w.pgmap);
        }
    }

    /// A waiter found at attach no longer sleeps: its wait ends, with a
    /// latency that is a lower bound. A wait the kernel reported beginning
    /// since on that thread is not this one, and is left alone.
    fn end_wait_found_at_attach(&mut self, ev: &Event, tid: u32) {
        if self
            .open_waits
            .get(&tid)
            .is_none_or(|w| w.at_attach.is_none())
        {
            return;
        }
        let Some(open) = self.open_waits.remove(&tid) else {
            return;
        };
        let pfn = open.at_attach.as_ref().map(|a| a.pfn);
        let record = WaitRecord {
            ino: open.ino,
            dev: open.dev,
            api: open.api,
            latency_ns: ev.ts_ns.saturating_sub(open.begin.ts_ns),
            ret: 0,
            busy_pfn: pfn,
            waiter: Actor {
                ts_ns: ev.ts_ns,
                ..open.begin
            },
            lower_bound: true,
        };
        self.finish_wait(record, 1, ev.ts_ns);
    }

    pub(super) fn on_state_busy_page(&mut self, ev: &Event, b: &StateBusyPage) {
        let device = if b.dev.0 != 0 {
            self.device_for_dev(b.dev, ev.ts_ns)
        } else {
            None
        };
        let cap = self.config.max_busy_pages;
        if let Some(p) = self.pagemap_mut(b.pgmap) {
            p.add_busy_at_start(
                StartBusyPage {
                    pfn: b.pfn,
                    page: b.page,
                    refcount: b.refcount,
                    mapcount: b.mapcount,
                    mapping: b.mapping,
                    ino: b.ino,
                    dev: b.dev,
                    index: b.index.get(),
                    idle_ns: None,
                },
                cap,
            );
            if let Some(id) = device {
                p.devices.insert(id);
            }
        }
        if let Some(d) = device.and_then(|id| self.devices.get_mut(&id))
            && b.pgmap != 0
        {
            d.pagemaps.insert(b.pgmap);
        }
    }
}
