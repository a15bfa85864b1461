//! What each attach point does. Every function here is `inline(always)` and
//! takes the point as an argument that is a constant in each program, so a
//! program only carries the code of its own point.
use dax_trace_common::{
    Dev, DiskName, Flag, MAX_WATCHED_PAGES, OptU64, PgmapPuts,
    field::{ClaimApiCode, StackId, WaitApiCode},
    payload::{
        BusyPage, Claim, DaxAddHost, DaxAlloc, DaxKill, DmAccess, DmMember, DmTableDax, Fault,
        HolderNotifyFailure, MemoryFailure, PageIdle, PagemapCreate, PagemapDestroy, Release,
        StuckWait, WaitBegin, WaitEnd,
    },
    probe::{ClaimApi, WaitApi, idx},
};

use crate::conf;
use crate::emit::{kept, now, stack_id, submit, submit_at, tid};
use crate::maps::{
    CLAIM_DEPTH, DM_CTX, DM_PAIRS, DM_TABLE_CTX, DmCtx, PGMAP_PUTS, STASH, Stash, WAITS, WATCHED,
    WaitSpan, Watch,
};
use crate::pins;
use crate::read::{
    at, bdev_dev, bdev_disk_name, dax_holder, inode_ident, inode_is_dax, is_err_or_null, name_at,
    nargs, page_index, page_pgmap, page_refcount, page_to_pfn,
};

const DM_TABLE_OPEN: u32 = 1;
const DM_TABLE_CLOSE: u32 = 2;

#[inline(always)]
fn stash_key(point: u16) -> u64 {
    ((tid() as u64) << 8) | point as u64
}

/// The program's context, for the helpers that need it (kernel stacks).
pub type Ctx = *mut core::ffi::c_void;

/// Function entry, whatever the attach kind.
#[inline(always)]
pub fn on_entry(ctx: Ctx, point: u16, args: &[u64; 6]) {
    if matches!(point, idx::UNPIN_USER_PAGE | idx::UNPIN_USER_PAGES) {
        pins::unpinned(point, args);
        return;
    }
    match point {
        // Entry-only points.
        idx::MEMUNMAP_PAGES => {
            pins::pagemap_gone(args[0]);
            submit(point, PagemapDestroy { pgmap: args[0] })
        }
        idx::KILL_DAX => submit(
            point,
            DaxKill {
                dax_dev: args[0],
                holder: dax_holder(args[0]),
            },
        ),
        idx::DAX_ADD_HOST => {
            let mut host = DaxAddHost {
                dax_dev: args[0],
                disk: DiskName::EMPTY,
            };
            name_at(args[1], conf!(disk_name_off), &mut host.disk.0);
            submit(point, host);
        }
        idx::FREE_ZONE_DEVICE_FOLIO => page_put(point, args[0], 1, true),
        idx::PUT_DEVMAP_FOLIO_REFS | idx::PUT_DEVMAP_PAGE_REFS => {
            page_put(point, args[0], args[1] as i32, false)
        }
        idx::PUT_DEVMAP_MANAGED_PAGE | idx::PUT_DEVMAP_MANAGED_PAGE_OLD => {
            page_put(point, args[0], 1, false)
        }
        idx::DAX_DIRECT_ACCESS => dm_fan_out(point, args),
        idx::DAX_HOLDER_NOTIFY_FAILURE => submit(
            point,
            HolderNotifyFailure {
                dax_dev: args[0],
                offset: args[1],
                len: args[2],
                flags: args[3],
                holder: dax_holder(args[0]),
            },
        ),
        // Break-layouts calls run on every truncate, hole punch and
        // fallocate of their filesystem: one on an inode without DAX can
        // meet no busy page, and is left before anything is kept (its
        // return then finds no stash).
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS
            if !inode_is_dax(args[0]) => {}
        // Entry halves of entry+exit points.
        _ => {
            let stash = Stash {
                args: *args,
                ts_ns: now(),
            };
            kept(point, STASH.insert(stash_key(point), stash, 0));
            entry_action(ctx, point, args);
        }
    }
}

#[inline(always)]
fn entry_action(ctx: Ctx, point: u16, args: &[u64; 6]) {
    match point {
        idx::FS_DAX_GET_BY_BDEV
        | idx::DAX_GET_BY_HOST
        | idx::FS_DAX_GET
        | idx::FS_DAX_CLAIM
        | idx::FS_DAX_CLAIM_BDEV
        | idx::DM_DAX_FS_CLAIM => {
            depth_inc(point);
        }
        idx::FS_PUT_DAX
        | idx::PUT_DAX
        | idx::FS_DAX_RELEASE_INNER
        | idx::FS_DAX_RELEASE
        | idx::DM_DAX_FS_RELEASE
            if depth_inc(point) == 0 =>
        {
            release(ctx, point, args);
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
            kept(point, DM_CTX.insert(tid(), ctx, 0));
        }
        idx::DM_GET_TABLE_DEVICE => {
            kept(point, DM_TABLE_CTX.insert(tid(), DM_TABLE_OPEN, 0));
        }
        idx::DM_PUT_TABLE_DEVICE => {
            kept(point, DM_TABLE_CTX.insert(tid(), DM_TABLE_CLOSE, 0));
        }
        _ => {}
    }
}

/// Function return, whatever the attach kind.
#[inline(always)]
pub fn on_exit(ctx: Ctx, point: u16, ret: u64) {
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
            if depth_dec(point) == 0 =>
        {
            claim(ctx, point, &args, ret);
        }
        idx::FS_PUT_DAX
        | idx::PUT_DAX
        | idx::FS_DAX_RELEASE_INNER
        | idx::FS_DAX_RELEASE
        | idx::DM_DAX_FS_RELEASE => {
            depth_dec(point);
        }
        idx::ALLOC_DAX if !is_err_or_null(ret) => submit(
            point,
            DaxAlloc {
                dax_dev: ret,
                private: args[0],
            },
        ),
        idx::DAX_LAYOUT_BUSY_PAGE_RANGE | idx::DAX_LAYOUT_BUSY_PAGE if ret != 0 => {
            busy_page(ctx, point, args[0], ret);
        }
        idx::EXT4_BREAK_LAYOUTS
        | idx::XFS_BREAK_LAYOUTS
        | idx::DAX_BREAK_LAYOUT
        | idx::FUSE_DAX_BREAK_LAYOUTS => wait_exit(point, ret),
        idx::DM_DAX_DIRECT_ACCESS => {
            let _ = DM_CTX.remove(tid());
        }
        idx::DM_TABLE_SUPPORTS_DAX => submit(
            point,
            DmTableDax {
                table: args[0],
                capable: Flag::new(ret & 0xff != 0),
                _pad: 0,
            },
        ),
        idx::DM_GET_TABLE_DEVICE | idx::DM_PUT_TABLE_DEVICE => {
            let _ = DM_TABLE_CTX.remove(tid());
        }
        _ => {}
    }
}

// ---- claims and releases -------------------------------------------------

/// Increments this thread's claim/release nesting depth, returning the old one.
#[inline(always)]
fn depth_inc(point: u16) -> u32 {
    let t = tid();
    let old = unsafe { CLAIM_DEPTH.get(t) }.copied().unwrap_or(0);
    kept(point, CLAIM_DEPTH.insert(t, old + 1, 0));
    old
}

/// Decrements the depth, returning the new one.
#[inline(always)]
fn depth_dec(point: u16) -> u32 {
    let t = tid();
    let old = unsafe { CLAIM_DEPTH.get(t) }.copied().unwrap_or(1);
    let new = old.saturating_sub(1);
    if new == 0 {
        let _ = CLAIM_DEPTH.remove(t);
    } else {
        kept(point, CLAIM_DEPTH.insert(t, new, 0));
    }
    new
}

#[inline(always)]
fn claim(ctx: Ctx, point: u16, args: &[u64; 6], ret: u64) {
    // dax_get_by_host (<= 5.15) is a claim only when device-mapper takes a
    // table member; elsewhere it is a transient lookup (bdev_dax_supported at
    // mount) whose put_dax is inlined away, so counting it would leave an
    // unmatched claim per mount.
    if point == idx::DAX_GET_BY_HOST
        && unsafe { DM_TABLE_CTX.get(tid()) }.copied() != Some(DM_TABLE_OPEN)
    {
        return;
    }
    let mut c = Claim::default();
    let n = nargs(point);
    let (dax_dev, granted, holder, api) = match point {
        idx::FS_DAX_GET_BY_BDEV => {
            let bdev = args[0];
            c.bdev = Dev(bdev_dev(bdev));
            bdev_disk_name(bdev, &mut c.disk.0);
            if n >= 2 {
                c.start_off = at::<u64>(args[1], 0);
            }
            let holder = if n >= 3 { args[2] } else { 0 };
            if n >= 4 {
                c.holder_ops = args[3];
            }
            (ret, !is_err_or_null(ret), holder, ClaimApi::FsDaxGetByBdev)
        }
        idx::DAX_GET_BY_HOST => {
            let _ = unsafe {
                aya_ebpf::helpers::bpf_probe_read_kernel_str_bytes(
                    args[0] as *const u8,
                    &mut c.disk.0,
                )
            };
            (ret, !is_err_or_null(ret), 0, ClaimApi::DaxGetByHost)
        }
        idx::FS_DAX_GET => {
            c.holder_ops = args[2];
            (args[0], ret as i32 == 0, args[1], ClaimApi::FsDaxGet)
        }
        idx::FS_DAX_CLAIM_BDEV => {
            c.bdev = Dev(bdev_dev(args[0]));
            bdev_disk_name(args[0], &mut c.disk.0);
            (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedFsDaxClaim)
        }
        idx::FS_DAX_CLAIM => (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedFsDaxClaim),
        _ => (ret, !is_err_or_null(ret), args[1], ClaimApi::SeedDmClaim),
    };
    // A NULL lookup without a holder is "not a DAX device", not a refusal.
    if !granted && holder == 0 {
        return;
    }
    c.dax_dev = if granted { dax_dev } else { 0 };
    c.holder = holder;
    c.granted = Flag::new(granted);
    c.api = ClaimApiCode::new(api);
    c.stack = StackId(stack_id(ctx, point));
    submit(point, c);
    if granted && unsafe { DM_TABLE_CTX.get(tid()) }.copied() == Some(DM_TABLE_OPEN) {
        dm_member(point, dax_dev, true, c.bdev, c.disk);
    }
}

#[inline(always)]
fn release(ctx: Ctx, point: u16, args: &[u64; 6]) {
    let dax_dev = args[0];
    if dax_dev == 0 {
        return;
    }
    let api = match point {
        idx::FS_PUT_DAX => ClaimApi::FsPutDax,
        idx::PUT_DAX => ClaimApi::PutDax,
        idx::DM_DAX_FS_RELEASE => ClaimApi::SeedDmClaim,
        _ => ClaimApi::SeedFsDaxClaim,
    };
    submit(
        point,
        Release {
            dax_dev,
            holder: if point == idx::PUT_DAX { 0 } else { args[1] },
            api: ClaimApiCode::new(api),
            _pad: 0,
            holder_before: dax_holder(dax_dev),
            stack: StackId(stack_id(ctx, point)),
            _pad_stack: 0,
        },
    );
    if unsafe { DM_TABLE_CTX.get(tid()) }.copied() == Some(DM_TABLE_CLOSE) {
        dm_member(point, dax_dev, false, Dev(0), DiskName::EMPTY);
    }
}

#[inline(always)]
fn dm_member(point: u16, dax_dev: u64, taken: bool, bdev: Dev, disk: DiskName) {
    submit(
        point,
        DmMember {
            member_dax_dev: dax_dev,
            taken: Flag::new(taken),
            bdev,
            disk,
        },
    );
}

// ---- pagemaps ----------------------------------------------------------------

#[inline(always)]
fn pagemap_create(point: u16, pgmap: u64, ret: u64) {
    let ty: u32 = at::<u32>(pgmap, conf!(pgmap_type_off));
    let start: u64 = at::<u64>(pgmap, conf!(pgmap_range_off));
    let end: u64 = at::<u64>(pgmap, conf!(pgmap_range_off) + 8);
    let has_nr: u32 = conf!(pgmap_has_nr_range);
    let has_owner: u32 = conf!(pgmap_has_owner);
    let fsdax: u32 = conf!(fsdax_type);
    pins::pagemap_known(
        point,
        pgmap,
        start >> 12,
        (end + 1) >> 12,
        ty == fsdax && ret < (-4095i64) as u64,
    );
    submit(
        point,
        PagemapCreate {
            pgmap,
            memory_type: ty,
            fs_dax: Flag::new(ty == fsdax),
            pfn_start: start >> 12,
            pfn_end: (end + 1) >> 12,
            nr_range: if has_nr != 0 {
                at::<i32>(pgmap, conf!(pgmap_nr_range_off)) as u32
            } else {
                1
            },
            _pad: 0,
            owner: if has_owner != 0 {
                at::<u64>(pgmap, conf!(pgmap_owner_off))
            } else {
                0
            },
            // memremap_pages returns the mapped address or an ERR_PTR.
            ret: if ret >= (-4095i64) as u64 {
                ret as i64
            } else {
                0
            },
        },
    );
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
    pins::page_released(point, page, refs, idle);
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
fn busy_page(ctx: Ctx, point: u16, mapping: u64, page: u64) {
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
    kept(point, WAITS.insert(t, span, 0));
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
/// is idle by the kernel's rule for longer than `stuck_after_ns`.
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
                } else {
                    w.idle_since_ns = 0;
                }
            }
        }
        i += 1;
    }
    if close != 0 {
        pins::page_released(point, close, 0, true);
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
    kept(point, DM_PAIRS.insert(pair, 1, 0));
    submit(
        point,
        DmAccess {
            dm_dax_dev: ctx.dm_dax_dev,
            member_dax_dev: member,
            dm_pgoff: ctx.pgoff,
            member_pgoff: args[1],
            nr_pages: ctx.nr_pages,
        },
    );
}

// ---- tracepoints -------------------------------------------------------------

/// `fs_dax:dax_{pte,pmd}_fault_done` and `memory_failure_event`.
#[inline(always)]
pub fn on_tracepoint(point: u16, read: impl Fn(u32, u32) -> u64) {
    match point {
        idx::PTE_FAULT_DONE => submit(
            point,
            Fault {
                dev: Dev(read(conf!(pte_fault_dev_off), 4) as u32),
                _pad: 0,
                ino: read(conf!(pte_fault_ino_off), 8),
                address: read(conf!(pte_fault_address_off), 8),
                pgoff: read(conf!(pte_fault_pgoff_off), 8),
                result: read(conf!(pte_fault_result_off), 4) as u32,
                pmd: Flag::new(false),
            },
        ),
        idx::PMD_FAULT_DONE => submit(
            point,
            Fault {
                dev: Dev(read(conf!(pmd_fault_dev_off), 4) as u32),
                _pad: 0,
                ino: read(conf!(pmd_fault_ino_off), 8),
                address: read(conf!(pmd_fault_address_off), 8),
                pgoff: read(conf!(pmd_fault_pgoff_off), 8),
                result: read(conf!(pmd_fault_result_off), 4) as u32,
                pmd: Flag::new(true),
            },
        ),
        _ => submit(
            point,
            MemoryFailure {
                pfn: read(conf!(mf_pfn_off), 8),
                mf_type: read(conf!(mf_type_off), 4) as u32,
                result: read(conf!(mf_result_off), 4) as u32,
            },
        ),
    }
}
