//! Break-layouts spans (waits on busy pages) and the periodic scan for
//! waiters that sleep on an idle page (lost wakeups).
use dax_trace_common::{
    Dev, MAX_WATCHED_PAGES, OptU64,
    field::WaitApiCode,
    payload::{BlockedWait, StuckWait, WaitEnd},
    probe::{WaitApi, idx},
};

use crate::conf;
use crate::emit::{kept, now, submit, submit_at, tid};
use crate::maps::{WAITS, WATCHED, WaitSpan};
use crate::pins;
use crate::read::{inode_ident, page_refcount};

/// `Watch::reported` bits: the lost wakeup was sent, the blocked wait was sent.
const REPORTED_STUCK: u32 = 1;
const REPORTED_BLOCKED: u32 = 2;

#[inline(always)]
pub(super) fn wait_api(point: u16) -> WaitApi {
    match point {
        idx::EXT4_BREAK_LAYOUTS => WaitApi::Ext4BreakLayouts,
        idx::XFS_BREAK_LAYOUTS => WaitApi::XfsBreakLayouts,
        idx::DAX_BREAK_LAYOUT => WaitApi::DaxBreakLayout,
        idx::DAX_BREAK_LAYOUT_FINAL => WaitApi::DaxBreakLayoutFinal,
        _ => WaitApi::FuseDaxBreakLayouts,
    }
}

#[inline(always)]
pub(super) fn wait_enter(point: u16, inode: u64) {
    let t = tid();
    if let Some(span) = WAITS.get_ptr_mut(t) {
        // Nested break_layouts (ext4 -> dax_break_layout): keep the outer span.
        // SAFETY: this thread's own entry.
        unsafe { (*span).depth += 1 };
        return;
    }
    let (ino, dev) = inode_ident(inode);
    let span = WaitSpan {
        inode,
        ino,
        start_ns: now(),
        last_pfn: 0,
        busy_hits: 0,
        dev,
        depth: 1,
        api: wait_api(point) as u32,
        begun: 0,
    };
    kept(point, WAITS.insert(t, span, 0));
}

#[inline(always)]
pub(super) fn wait_exit(point: u16, ret: u64) {
    let t = tid();
    let Some(span) = WAITS.get_ptr_mut(t) else {
        return;
    };
    // SAFETY: this thread's own entry.
    let span = unsafe { &mut *span };
    if span.depth > 1 {
        span.depth -= 1;
        return;
    }
    let s = *span;
    let _ = WAITS.remove(t);
    // Stop watching this thread's pages.
    let mut i = 0u32;
    while i < MAX_WATCHED_PAGES {
        if let Some(w) = WATCHED.get_ptr_mut(i) {
            // SAFETY: array slot.
            let w = unsafe { &mut *w };
            if w.tid == t {
                w.page = 0;
                w.tid = 0;
            }
        }
        i += 1;
    }
    if s.begun == 0 {
        // No busy page was met: a plain truncate, not a wait.
        return;
    }
    let ts = now();
    submit_at(
        point,
        ts,
        WaitEnd {
            inode: s.inode,
            ino: s.ino,
            dev: Dev(s.dev),
            api: WaitApiCode(s.api),
            latency_ns: ts.saturating_sub(s.start_ns),
            ret: ret as i32 as i64,
            // The span starts with last_pfn 0: no busy page met.
            busy_pfn: if s.last_pfn != 0 {
                OptU64(s.last_pfn)
            } else {
                OptU64::NONE
            },
            busy_hits: s.busy_hits,
        },
    );
}

/// The periodic scan for lost wakeups: a waiter still sleeps on a page that
/// is idle by the kernel's rule for longer than `stuck_after_ns`. Also:
/// an uninterruptible (eviction) waiter on a page still busy that long is
/// blocked; and orphaned pages that went idle unseen are closed.
#[inline(always)]
pub fn stuck_scan(point: u16) {
    let idle_rule: u32 = conf!(idle_refcount);
    let threshold: u64 = conf!(stuck_after_ns);
    let ts = now();
    // A stuck page is idle by the rule although no hooked put saw it go
    // (6.1's O_DIRECT release): its owners are gone too. One page per tick
    // (outside the loop: the verifier explores the loop body 64 times).
    let mut close = 0u64;
    let mut i = 0u32;
    while i < MAX_WATCHED_PAGES {
        if let Some(w) = WATCHED.get_ptr_mut(i) {
            // SAFETY: array slot.
            let w = unsafe { &mut *w };
            if w.page != 0 && w.reported & REPORTED_STUCK == 0 {
                let span = unsafe { WAITS.get(w.tid) }.map(|s| (s.api, s.last_pfn));
                let api = span.map(|(api, _)| api);
                // The waiter met a later busy page since: it sleeps on that
                // one now (a truncate behind 50,000 pipe-held pages walks
                // them as they are let go), and this page says nothing.
                let moved_on = span.is_some_and(|(_, last)| last != w.pfn);
                let count = page_refcount(w.page);
                if api.is_none() || moved_on {
                    w.page = 0;
                } else if count != idle_rule as i32 {
                    w.idle_since_ns = 0;
                    if api == Some(WaitApi::DaxBreakLayoutFinal as u32)
                        && w.reported & REPORTED_BLOCKED == 0
                        && ts - w.since_ns >= threshold
                    {
                        w.reported |= REPORTED_BLOCKED;
                        submit(
                            point,
                            BlockedWait {
                                page: w.page,
                                pfn: w.pfn,
                                refcount: count as u64,
                                wait_begin_ns: w.since_ns,
                                ino: w.ino,
                                dev: Dev(w.dev),
                                waiter_tid: w.tid,
                                pgmap: w.pgmap,
                            },
                        );
                    }
                } else {
                    if w.idle_since_ns == 0 {
                        w.idle_since_ns = ts;
                    } else if ts - w.idle_since_ns >= threshold {
                        w.reported |= REPORTED_STUCK;
                        submit(
                            point,
                            StuckWait {
                                page: w.page,
                                pfn: w.pfn,
                                refcount: count as u64,
                                wait_begin_ns: w.since_ns,
                                ino: w.ino,
                                dev: Dev(w.dev),
                                waiter_tid: w.tid,
                                pgmap: w.pgmap,
                            },
                        );
                        if close == 0 {
                            close = w.page;
                        }
                    }
                }
            }
        }
        i += 1;
    }
    if close != 0 {
        pins::page_released(point, close, 0, true);
    }
    super::orphans::orphan_scan(point);
}
