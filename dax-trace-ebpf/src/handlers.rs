//! What each attach point does. Every function here is `inline(always)` and
//! takes the point as an argument that is a constant in each program, so a
//! program only carries the code of its own point.
use dax_trace_common::{
    MAX_WATCHED_PAGES, PgmapPuts, RawEvent, kind,
    probe::{ClaimApi, WaitApi, idx},
};

use crate::conf;
use crate::emit::{hit, new_event, now, submit, tid};
use crate::maps::{
    CLAIM_DEPTH, DM_CTX, DM_PAIRS, DM_TABLE_CTX, DmCtx, PGMAP_PUTS, STASH, Stash, WAITS, WATCHED,
    WaitSpan, Watch,
};
use crate::read::{
    at, bdev_dev, bdev_disk_name, dax_holder, inode_ident, is_err_or_null, name_at, nargs,
    page_index_plus_one, page_pgmap, page_refcount, page_to_pfn,
};

const DM_TABLE_OPEN: u32 = 1;
const DM_TABLE_CLOSE: u32 = 2;

#[inline(always)]
fn stash_key(point: u16) -> u64 {
    ((tid() as u64) << 8) | point as u64
}

/// Function entry, whatever the attach kind.
#[inline(always)]
pub fn on_entry(point: u16, args: &[u64; 6]) {
    hit(point);
    match point {
        // Entry-only points.
        idx::MEMUNMAP_PAGES => {
            let mut ev = new_event(kind::PAGEMAP_DESTROY, point);
            ev.a[0] = args[0];
            submit(&ev);
        }
        idx::KILL_DAX => {
            let mut ev = new_event(kind::DAX_KILL, point);
            ev.a[0] = args[0];
            ev.a[1] = dax_holder(args[0]);
            submit(&ev);
        }
        idx::DAX_ADD_HOST => {
            let mut ev = new_event(kind::DAX_ADD_HOST, point);
            ev.a[0] = args[0];
            name_at(args[1], conf!(disk_name_off), &mut ev.name);
            submit(&ev);
        }
        idx::FREE_ZONE_DEVICE_FOLIO => page_put(point, args[0], 1, true),
        idx::PUT_DEVMAP_FOLIO_REFS | idx::PUT_DEVMAP_PAGE_REFS => {
            page_put(point, args[0], args[1] as i32, false)
        }
        idx::PUT_DEVMAP_MANAGED_PAGE | idx::PUT_DEVMAP_MANAGED_PAGE_OLD => {
            page_put(point, args[0], 1, false)
        }
        idx::DAX_DIRECT_ACCESS => dm_fan_out(point, args),
        idx::DAX_HOLDER_NOTIFY_FAILURE => {
            let mut ev = new_event(kind::HOLDER_NOTIFY_FAILURE, point);
            ev.a[0] = args[0];
            ev.a[1] = args[1];
            ev.a[2] = args[2];
            ev.a[3] = args[3];
            ev.a[4] = dax_holder(args[0]);
            submit(&ev);
        }
        // Entry halves of entry+exit points.
        _ => {
            let stash = Stash {
                args: *args,
                ts_ns: now(),
            };
            let _ = STASH.insert(stash_key(point), stash, 0);
            entry_action(point, args);
        }
    }
}

#[inline(always)]
fn entry_action(point: u16, args: &[u64; 6]) {
    match point {
        idx::FS_DAX_GET_BY_BDEV
        | idx::DAX_GET_BY_HOST
        | idx::FS_DAX_GET
        | idx::FS_DAX_CLAIM
        | idx::FS_DAX_CLAIM_BDEV
        | idx::DM_DAX_FS_CLAIM => {
            depth_inc();
        }
        idx::FS_PUT_DAX
        | idx::PUT_DAX
        | idx::FS_DAX_RELEASE_INNER
        | idx::FS_DAX_RELEASE
        | idx::DM_DAX_FS_RELEASE
            if depth_inc() == 0 =>
        {
            release(point, args);
        }
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS => wait_enter(point, args[0]),
        idx::DM_DAX_DIRECT_ACCESS => {
            let ctx = DmCtx {
                dm_dax_dev: args[0],
                pgoff: args[1],
                nr_pages: args[2],
            };
            let _ = DM_CTX.insert(tid(), ctx, 0);
        }
        idx::DM_GET_TABLE_DEVICE => {
            let _ = DM_TABLE_CTX.insert(tid(), DM_TABLE_OPEN, 0);
        }
        idx::DM_PUT_TABLE_DEVICE => {
            let _ = DM_TABLE_CTX.insert(tid(), DM_TABLE_CLOSE, 0);
        }
        _ => {}
    }
}

/// Function return, whatever the attach kind.
#[inline(always)]
pub fn on_exit(point: u16, ret: u64) {
    let key = stash_key(point);
    let Some(stash) = (unsafe { STASH.get(key) }).copied() else {
        // Entered before we attached: nothing to pair with.
        return;
    };
    let _ = STASH.remove(key);
    let args = stash.args;
    match point {
        idx::MEMREMAP_PAGES => pagemap_create(point, args[0], ret),
        idx::DEVM_MEMREMAP_PAGES => pagemap_create(point, args[1], ret),
        idx::FS_DAX_GET_BY_BDEV
        | idx::DAX_GET_BY_HOST
        | idx::FS_DAX_GET
        | idx::FS_DAX_CLAIM
        | idx::FS_DAX_CLAIM_BDEV
        | idx::DM_DAX_FS_CLAIM
            if depth_dec() == 0 =>
        {
            claim(point, &args, ret);
        }
        idx::FS_PUT_DAX
        | idx::PUT_DAX
        | idx::FS_DAX_RELEASE_INNER
        | idx::FS_DAX_RELEASE
        | idx::DM_DAX_FS_RELEASE => {
            depth_dec();
        }
        idx::ALLOC_DAX if !is_err_or_null(ret) => {
            let mut ev = new_event(kind::DAX_ALLOC, point);
            ev.a[0] = ret;
            ev.a[1] = args[0];
            submit(&ev);
        }
        idx::DAX_LAYOUT_BUSY_PAGE_RANGE | idx::DAX_LAYOUT_BUSY_PAGE if ret != 0 => {
            busy_page(point, args[0], ret);
        }
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS => wait_exit(point, ret),
        idx::DM_DAX_DIRECT_ACCESS => {
            let _ = DM_CTX.remove(tid());
        }
        idx::DM_TABLE_SUPPORTS_DAX => {
            let mut ev = new_event(kind::DM_TABLE_DAX, point);
            ev.a[0] = args[0];
            ev.a[1] = ret & 0xff;
            submit(&ev);
        }
        idx::DM_GET_TABLE_DEVICE | idx::DM_PUT_TABLE_DEVICE => {
            let _ = DM_TABLE_CTX.remove(tid());
        }
        _ => {}
    }
}

// ---- claims and releases -------------------------------------------------

/// Increments this thread's claim/release nesting depth, returning the old one.
#[inline(always)]
fn depth_inc() -> u32 {
    let t = tid();
    let old = unsafe { CLAIM_DEPTH.get(t) }.copied().unwrap_or(0);
    let _ = CLAIM_DEPTH.insert(t, old + 1, 0);
    old
}

/// Decrements the depth, returning the new one.
#[inline(always)]
fn depth_dec() -> u32 {
    let t = tid();
    let old = unsafe { CLAIM_DEPTH.get(t) }.copied().unwrap_or(1);
    let new = old.saturating_sub(1);
    if new == 0 {
        let _ = CLAIM_DEPTH.remove(t);
    } else {
        let _ = CLAIM_DEPTH.insert(t, new, 0);
    }
    new
}

#[inline(always)]
fn claim(point: u16, args: &[u64; 6], ret: u64) {
    // dax_get_by_host (<= 5.15) is a claim only when device-mapper takes a
    // table member; elsewhere it is a transient lookup (bdev_dax_supported at
    // mount) whose put_dax is inlined away, so counting it would leave an
    // unmatched claim per mount.
    if point == idx::DAX_GET_BY_HOST
        && unsafe { DM_TABLE_CTX.get(tid()) }.copied() != Some(DM_TABLE_OPEN)
    {
        return;
    }
    let mut ev = new_event(kind::CLAIM, point);
    let n = nargs(point);
    let (dax_dev, granted, holder, api) = match point {
        idx::FS_DAX_GET_BY_BDEV => {
            let bdev = args[0];
            ev.a[2] = bdev_dev(bdev) as u64;
            bdev_disk_name(bdev, &mut ev.name);
            if n >= 2 {
                ev.a[6] = at::<u64>(args[1], 0);
            }
            let holder = if n >= 3 { args[2] } else { 0 };
            if n >= 4 {
                ev.a[3] = args[3];
            }
            (ret, !is_err_or_null(ret), holder, ClaimApi::FsDaxGetByBdev)
        }
        idx::DAX_GET_BY_HOST => {
            let _ = unsafe {
                aya_ebpf::helpers::bpf_probe_read_kernel_str_bytes(
                    args[0] as *const u8,
                    &mut ev.name,
                )
            };
            (ret, !is_err_or_null(ret), 0, ClaimApi::DaxGetByHost)
        }
        idx::FS_DAX_GET => {
            ev.a[3] = args[2];
            (args[0], ret as i32 == 0, args[1], ClaimApi::FsDaxGet)
        }
        idx::FS_DAX_CLAIM_BDEV => {
            ev.a[2] = bdev_dev(args[0]) as u64;
            bdev_disk_name(args[0], &mut ev.name);
            (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedFsDaxClaim)
        }
        idx::FS_DAX_CLAIM => (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedFsDaxClaim),
        _ => (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedDmClaim),
    };
    // A NULL lookup without a holder is "not a DAX device", not a refusal.
    if !granted && holder == 0 {
        return;
    }
    ev.a[0] = if granted { dax_dev } else { 0 };
    ev.a[1] = holder;
    ev.a[4] = granted as u64;
    ev.a[5] = api as u64;
    submit(&ev);
    if granted && unsafe { DM_TABLE_CTX.get(tid()) }.copied() == Some(DM_TABLE_OPEN) {
        dm_member(point, dax_dev, true, ev.a[2], &ev);
    }
}

#[inline(always)]
fn release(point: u16, args: &[u64; 6]) {
    let dax_dev = args[0];
    if dax_dev == 0 {
        return;
    }
    let mut ev = new_event(kind::RELEASE, point);
    let api = match point {
        idx::FS_PUT_DAX => ClaimApi::FsPutDax,
        idx::PUT_DAX => ClaimApi::PutDax,
        idx::DM_DAX_FS_RELEASE => ClaimApi::SeedDmClaim,
        _ => ClaimApi::SeedFsDaxClaim,
    };
    ev.a[0] = dax_dev;
    ev.a[1] = if point == idx::PUT_DAX { 0 } else { args[1] };
    ev.a[2] = api as u64;
    ev.a[3] = dax_holder(dax_dev);
    submit(&ev);
    if unsafe { DM_TABLE_CTX.get(tid()) }.copied() == Some(DM_TABLE_CLOSE) {
        dm_member(point, dax_dev, false, 0, &ev);
    }
}

#[inline(always)]
fn dm_member(point: u16, dax_dev: u64, taken: bool, dev: u64, from: &RawEvent) {
    let mut ev = new_event(kind::DM_MEMBER, point);
    ev.a[0] = dax_dev;
    ev.a[1] = taken as u64;
    ev.a[2] = dev;
    ev.name = from.name;
    submit(&ev);
}

// ---- pagemaps ----------------------------------------------------------------

#[inline(always)]
fn pagemap_create(point: u16, pgmap: u64, ret: u64) {
    let mut ev = new_event(kind::PAGEMAP_CREATE, point);
    let ty: u32 = at::<u32>(pgmap, conf!(pgmap_type_off));
    let start: u64 = at::<u64>(pgmap, conf!(pgmap_range_off));
    let end: u64 = at::<u64>(pgmap, conf!(pgmap_range_off) + 8);
    ev.a[0] = pgmap;
    ev.a[1] = ty as u64;
    ev.a[2] = start >> 12;
    ev.a[3] = (end + 1) >> 12;
    let has_nr: u32 = conf!(pgmap_has_nr_range);
    ev.a[4] = if has_nr != 0 {
        at::<i32>(pgmap, conf!(pgmap_nr_range_off)) as u64
    } else {
        1
    };
    let has_owner: u32 = conf!(pgmap_has_owner);
    ev.a[5] = if has_owner != 0 {
        at::<u64>(pgmap, conf!(pgmap_owner_off))
    } else {
        0
    };
    // memremap_pages returns the mapped address or an ERR_PTR.
    ev.a[6] = if ret >= (-4095i64) as u64 { ret } else { 0 };
    let fsdax: u32 = conf!(fsdax_type);
    ev.a[7] = (ty == fsdax) as u64;
    submit(&ev);
}

// ---- page puts, idle and watched pages ------------------------------------------

#[inline(always)]
fn watch_slot(page: u64) -> u32 {
    ((page >> 6) % MAX_WATCHED_PAGES as u64) as u32
}

#[inline(always)]
fn page_put(point: u16, page: u64, refs: i32, at_zero: bool) {
    let pgmap = page_pgmap(page);
    let idle_rule: u32 = conf!(idle_refcount);
    let after = if at_zero {
        0
    } else {
        page_refcount(page) - refs
    };
    let idle = at_zero || after == idle_rule as i32;
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
            let _ = PGMAP_PUTS.insert(pgmap, first, 0);
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
    let mut ev = new_event(kind::PAGE_IDLE, point);
    ev.a[0] = pgmap;
    ev.a[1] = w.pfn;
    ev.a[2] = page;
    ev.a[3] = after as u64;
    submit(&ev);
}

#[inline(always)]
fn busy_page(point: u16, mapping: u64, page: u64) {
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
            let mut begin = new_event(kind::WAIT_BEGIN, point);
            begin.ts_ns = span.start_ns;
            begin.a[0] = span.inode;
            begin.a[1] = span.ino;
            begin.a[2] = span.dev as u64;
            begin.a[3] = span.api as u64;
            submit(&begin);
        }
    }
    if let Some(w) = WATCHED.get_ptr_mut(watch_slot(page)) {
        // SAFETY: array slot owned by whoever watches this page.
        let w = unsafe { &mut *w };
        if w.page != page || w.tid != t {
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
    let mut ev = new_event(kind::BUSY_PAGE, point);
    ev.a[0] = mapping;
    ev.a[1] = page;
    ev.a[2] = pfn;
    ev.a[3] = ino;
    ev.a[4] = dev as u64;
    ev.a[5] = pgmap;
    ev.a[6] = page_refcount(page) as u64;
    ev.a[7] = page_index_plus_one(page);
    submit(&ev);
}

// ---- layout waits ------------------------------------------------------------

#[inline(always)]
fn wait_api(point: u16) -> WaitApi {
    match point {
        idx::EXT4_BREAK_LAYOUTS => WaitApi::Ext4BreakLayouts,
        idx::XFS_BREAK_LAYOUTS => WaitApi::XfsBreakLayouts,
        idx::DAX_BREAK_LAYOUT => WaitApi::DaxBreakLayout,
        _ => WaitApi::FuseDaxBreakLayouts,
    }
}

#[inline(always)]
fn wait_enter(point: u16, inode: u64) {
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
    let _ = WAITS.insert(t, span, 0);
}

#[inline(always)]
fn wait_exit(point: u16, ret: u64) {
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
    let mut ev = new_event(kind::WAIT_END, point);
    ev.a[0] = s.inode;
    ev.a[1] = s.ino;
    ev.a[2] = s.dev as u64;
    ev.a[3] = s.api as u64;
    ev.a[4] = ev.ts_ns.saturating_sub(s.start_ns);
    ev.a[5] = ret as i32 as i64 as u64;
    ev.a[6] = s.last_pfn;
    ev.a[7] = s.busy_hits;
    submit(&ev);
}

/// The periodic scan for lost wakeups: a waiter still sleeps on a page that
/// is idle by the kernel's rule for longer than `stuck_after_ns`.
#[inline(always)]
pub fn stuck_scan(point: u16) {
    hit(point);
    let idle_rule: u32 = conf!(idle_refcount);
    let threshold: u64 = conf!(stuck_after_ns);
    let ts = now();
    let mut i = 0u32;
    while i < MAX_WATCHED_PAGES {
        if let Some(w) = WATCHED.get_ptr_mut(i) {
            // SAFETY: array slot.
            let w = unsafe { &mut *w };
            if w.page != 0 && w.reported == 0 {
                let waiting = unsafe { WAITS.get(w.tid) }.is_some();
                let count = page_refcount(w.page);
                if !waiting {
                    w.page = 0;
                } else if count == idle_rule as i32 {
                    if w.idle_since_ns == 0 {
                        w.idle_since_ns = ts;
                    } else if ts - w.idle_since_ns >= threshold {
                        w.reported = 1;
                        let mut ev = new_event(kind::STUCK_WAIT, point);
                        ev.a[0] = w.page;
                        ev.a[1] = w.pfn;
                        ev.a[2] = count as u64;
                        ev.a[3] = w.since_ns;
                        ev.a[4] = w.ino;
                        ev.a[5] = w.dev as u64;
                        ev.a[6] = w.tid as u64;
                        ev.a[7] = w.pgmap;
                        submit(&ev);
                    }
                } else {
                    w.idle_since_ns = 0;
                }
            }
        }
        i += 1;
    }
}

// ---- device mapper -----------------------------------------------------------

#[inline(always)]
fn dm_fan_out(point: u16, args: &[u64; 6]) {
    let Some(ctx) = (unsafe { DM_CTX.get(tid()) }).copied() else {
        return;
    };
    let member = args[0];
    if member == ctx.dm_dax_dev {
        return;
    }
    let pair = [ctx.dm_dax_dev, member];
    if unsafe { DM_PAIRS.get(pair) }.is_some() {
        return;
    }
    let _ = DM_PAIRS.insert(pair, 1, 0);
    let mut ev = new_event(kind::DM_ACCESS, point);
    ev.a[0] = ctx.dm_dax_dev;
    ev.a[1] = member;
    ev.a[2] = ctx.pgoff;
    ev.a[3] = args[1];
    ev.a[4] = ctx.nr_pages;
    submit(&ev);
}

// ---- tracepoints -------------------------------------------------------------

/// `fs_dax:dax_{pte,pmd}_fault_done` and `memory_failure_event`.
#[inline(always)]
pub fn on_tracepoint(point: u16, read: impl Fn(u32, u32) -> u64) {
    hit(point);
    let mut ev;
    match point {
        idx::PTE_FAULT_DONE => {
            ev = new_event(kind::FAULT, point);
            ev.a[0] = read(conf!(pte_fault_dev_off), 4);
            ev.a[1] = read(conf!(pte_fault_ino_off), 8);
            ev.a[2] = read(conf!(pte_fault_address_off), 8);
            ev.a[3] = read(conf!(pte_fault_pgoff_off), 8);
            ev.a[4] = read(conf!(pte_fault_result_off), 4);
        }
        idx::PMD_FAULT_DONE => {
            ev = new_event(kind::FAULT, point);
            ev.a[0] = read(conf!(pmd_fault_dev_off), 4);
            ev.a[1] = read(conf!(pmd_fault_ino_off), 8);
            ev.a[2] = read(conf!(pmd_fault_address_off), 8);
            ev.a[3] = read(conf!(pmd_fault_pgoff_off), 8);
            ev.a[4] = read(conf!(pmd_fault_result_off), 4);
            ev.a[5] = 1;
        }
        _ => {
            ev = new_event(kind::MEMORY_FAILURE, point);
            ev.a[0] = read(conf!(mf_pfn_off), 8);
            ev.a[1] = read(conf!(mf_type_off), 4);
            ev.a[2] = read(conf!(mf_result_off), 4);
        }
    }
    submit(&ev);
}
