//! Page puts and idle transitions, watched pages, and busy pages met by a
//! break-layouts call.
use dax_trace_common::{
    Dev, Loss, MAX_WATCHED_PAGES, PgmapPuts,
    field::{StackId, WaitApiCode},
    payload::{BusyPage, PageIdle, WaitBegin},
};

use crate::conf;
use crate::emit::{count, kept, now, stack_id, submit, submit_at, tid};
use crate::maps::{PGMAP_PUTS, WAITS, WATCHED, Watch};
use crate::pins;
use crate::read::{at, inode_ident, page_index, page_pgmap, page_refcount, page_to_pfn};

use super::*;

#[inline(always)]
pub(super) fn watch_slot(page: u64) -> u32 {
    ((page >> 6) % MAX_WATCHED_PAGES as u64) as u32
}

#[inline(always)]
pub(super) fn page_put(point: u16, page: u64, refs: i32, at_zero: bool) {
    let pgmap = page_pgmap(page);
    let idle_rule: u32 = conf!(idle_refcount);
    let after = if at_zero {
        0
    } else {
        page_refcount(page) - refs
    };
    let idle = at_zero || after == idle_rule as i32;
    pins::page_released(point, page, refs, idle);
    if idle {
        super::orphans::orphan_check(point, page, after);
    }
    match PGMAP_PUTS.get_ptr_mut(pgmap) {
        Some(p) => {
            // SAFETY: this CPU's slot.
            let p = unsafe { &mut *p };
            p.puts += 1;
            p.idles += idle as u64;
        }
        None => {
            let first = PgmapPuts {
                puts: 1,
                idles: idle as u64,
            };
            kept(point, PGMAP_PUTS.insert(pgmap, first, 0));
        }
    }
    if !idle {
        return;
    }
    let slot = watch_slot(page);
    let Some(w) = WATCHED.get_ptr_mut(slot) else {
        return;
    };
    // SAFETY: array slot; a racing writer can only replace it wholesale.
    let w = unsafe { &mut *w };
    if w.page != page {
        return;
    }
    submit(
        point,
        PageIdle {
            pgmap,
            pfn: w.pfn,
            page,
            refcount: after as u64,
        },
    );
}

#[inline(always)]
pub(super) fn busy_page(ctx: Ctx, point: u16, mapping: u64, page: u64) {
    let host = at::<u64>(mapping, conf!(mapping_host_off));
    let (ino, dev) = inode_ident(host);
    let pfn = page_to_pfn(page);
    let pgmap = page_pgmap(page);
    let t = tid();
    let ts = now();
    if let Some(span) = WAITS.get_ptr_mut(t) {
        // SAFETY: this thread's own entry.
        let span = unsafe { &mut *span };
        span.busy_hits += 1;
        span.last_pfn = pfn;
        if span.begun == 0 {
            span.begun = 1;
            submit_at(
                point,
                span.start_ns,
                WaitBegin {
                    inode: span.inode,
                    ino: span.ino,
                    dev: Dev(span.dev),
                    api: WaitApiCode(span.api),
                    stack: StackId(stack_id(ctx, point)),
                    _pad_stack: 0,
                },
            );
        }
    }
    if let Some(w) = WATCHED.get_ptr_mut(watch_slot(page)) {
        // SAFETY: array slot owned by whoever watches this page.
        let w = unsafe { &mut *w };
        if w.page != page || w.tid != t {
            // Another waiter still asleep on the page in this slot loses
            // its watch: a lost wakeup there would go unseen.
            if w.page != 0
                && w.tid != t
                && unsafe { WAITS.get(w.tid) }.is_some_and(|s| s.last_pfn == w.pfn)
            {
                count(point, Loss::WatchReplaced);
            }
            *w = Watch {
                page,
                pfn,
                pgmap,
                since_ns: ts,
                idle_since_ns: 0,
                ino,
                dev,
                tid: t,
                reported: 0,
                _pad: 0,
            };
        }
    }
    submit(
        point,
        BusyPage {
            mapping,
            page,
            pfn,
            ino,
            dev: Dev(dev),
            _pad: 0,
            pgmap,
            refcount: page_refcount(page) as u64,
            index: page_index(page),
        },
    );
    pins::report_owners(point, page, pfn, pgmap, page_refcount(page));
}
