//! Owners of FS-DAX pages: who took references through the gup entry points,
//! kept per page in `PAGE_OWNERS` (a pin is never streamed), sent as
//! `PinOwner` when a busy page they hold is met and closed by the puts.
//! Refused long-term pins are sent as they happen.
use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, generated::bpf_probe_read_kernel,
};
use dax_trace_common::{
    Flag, FsdaxRanges, Loss, PageSpan,
    field::{PathName, StackId},
    payload::{PinOwner, PinRelease, RefusedPin},
    probe::{GupShape, gup_shape, idx},
};

use crate::conf;
use crate::emit::{count, kept, now, stack_id, submit, submit_as};
use crate::maps::{
    FSDAX_PGMAPS, FSDAX_RANGES, NO_OWNERS, OWNER_SLOTS, Owner, PAGE_OWNERS, PageOwners,
    STACK_CACHE, StackSeen,
};
use crate::read::{at, page_of_pfn, page_pgmap, page_to_pfn};

/// Pages of one gup call that are looked at (a 4 KiB O_DIRECT pins one; a
/// 64 KiB one 16). Larger calls record their first pages only.
pub const MAX_GUP_PAGES: u64 = 16;

/// `GUP_PIN_COUNTING_BIAS`: a FOLL_PIN reference adds this much to the
/// refcount of a small page, and its put subtracts it.
const PIN_BIAS: i32 = 1024;

const EOPNOTSUPP: i64 = -95;

/// Where the struct pages of FS-DAX memory lie; None when none is known.
/// By reference: a copy of the 136 bytes is a memcpy loop in BPF.
#[inline(always)]
fn fsdax_ranges() -> Option<&'static FsdaxRanges> {
    FSDAX_RANGES.get(0).filter(|r| r.n != 0)
}

/// An FS-DAX page, decided from its address: inside one of the ranges
/// (and, only when some pagemap did not fit in them, in the pgmap set: a
/// normal page's pgmap word is an lru pointer, never a key).
#[inline(always)]
fn is_fsdax(ranges: &FsdaxRanges, page: u64) -> bool {
    if !ranges.covers(page) {
        return false;
    }
    if ranges.inexact == 0 {
        return true;
    }
    let pgmap = page_pgmap(page);
    pgmap != 0 && unsafe { FSDAX_PGMAPS.get(pgmap) }.is_some()
}

/// A gup entry point returned: `arg(i)` gives argument `i` of the call.
/// Runs on every gup call of the machine, DAX or not: what ordinary memory
/// costs here is what every O_DIRECT and shared futex pays. So the order is
/// the return value (no pages: done), the FS-DAX span (no FS-DAX memory:
/// done), then one read of the pages array and an address compare per
/// page; only a page inside the span is read.
#[inline(always)]
pub fn gup_exit(ctx: *mut core::ffi::c_void, point: u16, arg: impl Fn(usize) -> u64, ret: u64) {
    let Some(shape) = gup_shape(point) else {
        return;
    };
    // The `*_fast` calls return an int, the others a long: the fexit slot's
    // upper half is not the sign for an int (-95 reads 0xffffffa1). Counts
    // and errnos both fit in 32 bits, so sign-extend from there.
    let ret = ret as u32 as i32 as i64;
    if ret <= 0 {
        if ret == EOPNOTSUPP {
            let flags = arg(shape.flags) as u32;
            if flags & conf!(foll_longterm) != 0 {
                refused(ctx, point, &shape, &arg, flags, ret);
            }
        }
        return;
    }
    if conf!(track_pins) == 0 {
        return;
    }
    let Some(ranges) = fsdax_ranges() else {
        return;
    };
    let pages = arg(shape.pages);
    if pages == 0 {
        return;
    }
    record_owners(ctx, point, &shape, ranges, pages, ret as u64);
}

#[inline(always)]
fn refused(
    ctx: *mut core::ffi::c_void,
    point: u16,
    shape: &GupShape,
    arg: &impl Fn(usize) -> u64,
    flags: u32,
    ret: i64,
) {
    submit(
        point,
        RefusedPin {
            start: arg(shape.start),
            nr_pages: arg(shape.nr_pages),
            gup_flags: flags,
            ret: ret as i32,
            stack: StackId(stack_id(ctx, point)),
            pin: Flag::new(shape.pin || flags & conf!(foll_pin) != 0),
            path: PathName::EMPTY,
        },
    );
}

/// The pages a call referenced, read in one go into `out`: at most
/// [`MAX_GUP_PAGES`]; how many were read (0 on a fault).
#[inline(always)]
fn read_pages(pages: u64, count: u64, out: &mut PageBuf) -> u64 {
    let n = if count < MAX_GUP_PAGES {
        count
    } else {
        MAX_GUP_PAGES
    };
    // Bounded for the verifier on the register it checks: 8 to 128 bytes
    // into the 128-byte buffer.
    let bytes = ((n as u32) & 31) * 8;
    if bytes == 0 || bytes > MAX_GUP_PAGES as u32 * 8 {
        return 0;
    }
    // SAFETY: `out` has room for `bytes`; the helper checks the source and
    // zeroes the buffer on a fault.
    let err = unsafe {
        bpf_probe_read_kernel(
            out.as_mut_ptr() as *mut core::ffi::c_void,
            bytes,
            pages as *const core::ffi::c_void,
        )
    };
    if err < 0 { 0 } else { n }
}

/// Room for the pages of one call, left uninitialized: zeroing 128 bytes
/// is a byte-by-byte memset in BPF (about 400 instructions, a third of the
/// program), and the helper writes what is read.
type PageBuf = core::mem::MaybeUninit<[u64; MAX_GUP_PAGES as usize]>;

/// Page `i` of a buffer [`read_pages`] filled up to at least `i + 1`.
#[inline(always)]
fn page_at(buf: &PageBuf, i: usize) -> u64 {
    // SAFETY: i < 16, and read_pages wrote every slot below its count.
    unsafe { (*buf.as_ptr())[i & (MAX_GUP_PAGES as usize - 1)] }
}

/// Loop state is the index alone (whatever else a page's handling leaves
/// behind is dead at the loop head), so the verifier's walk of the unrolled
/// loop stays linear in `MAX_GUP_PAGES`.
#[inline(always)]
fn record_owners(
    ctx: *mut core::ffi::c_void,
    point: u16,
    shape: &GupShape,
    ranges: &FsdaxRanges,
    pages: u64,
    count: u64,
) {
    let mut got = PageBuf::uninit();
    let n = read_pages(pages, count, &mut got);
    // A constant per program: an unknown one doubles the paths the verifier
    // walks. 5.10's pin_user_pages_unlocked passes FOLL_PIN on to
    // get_user_pages_unlocked, whose owner then starts as a get; the outer
    // call's return marks it a pin (add_owner).
    let pin = shape.pin;
    let mut i = 0usize;
    while i < MAX_GUP_PAGES as usize {
        if i as u64 >= n {
            break;
        }
        let page = page_at(&got, i);
        let slot_addr = pages + i as u64 * 8;
        i += 1;
        if is_fsdax(ranges, page) {
            add_owner(ctx, page, slot_addr, point, pin, shape.remote);
        }
    }
}

/// A nested call reports the same array slot this soon after its outer call.
const NESTED_WINDOW_NS: u64 = 10_000_000;

/// An owner holds references now. One whose references all went is kept
/// *dormant* (its tid stays, refs 0): the thread's next pin of the page
/// (an O_DIRECT loop pins its buffer page per I/O) revives it without
/// reading the task's identity or stack again.
#[inline(always)]
fn live(o: &Owner) -> bool {
    o.tid != 0 && o.refs != 0
}

#[inline(always)]
fn add_owner(
    ctx: *mut core::ffi::c_void,
    page: u64,
    slot_addr: u64,
    point: u16,
    pin: bool,
    remote: bool,
) {
    let po = match PAGE_OWNERS.get_ptr_mut(page) {
        Some(po) => po,
        None => {
            // The empty value comes from a map: on the stack its 300 bytes
            // and the pages array left no room for the rest.
            let Some(empty) = NO_OWNERS.get(0) else {
                return;
            };
            kept(point, PAGE_OWNERS.insert(page, empty, 0));
            let Some(po) = PAGE_OWNERS.get_ptr_mut(page) else {
                return;
            };
            po
        }
    };
    // SAFETY: a map value; concurrent updates of one page race benignly
    // (a count may be off by one, never out of bounds).
    let po = unsafe { &mut *po };
    let pid_tgid = bpf_get_current_pid_tgid();
    let t = pid_tgid as u32;
    let pid = (pid_tgid >> 32) as u32;
    let ts = now();
    let mut free = OWNER_SLOTS;
    let mut dormant = OWNER_SLOTS;
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &mut po.owners[k];
        if o.tid == t && o.pid == pid {
            if o.refs == 0 {
                revive(ctx, o, slot_addr, point, pin, remote, ts);
                return;
            }
            let nested =
                o.last_slot == slot_addr && ts.saturating_sub(o.last_ns) < NESTED_WINDOW_NS;
            if !nested {
                o.refs += 1;
            }
            o.last_slot = slot_addr;
            o.last_ns = ts;
            // The outer call of a nested pair names the entry point.
            o.point = point;
            o.pin |= pin as u8;
            return;
        }
        if o.tid == 0 {
            if free == OWNER_SLOTS {
                free = k;
            }
        } else if o.refs == 0 && dormant == OWNER_SLOTS {
            dormant = k;
        }
        k += 1;
    }
    // A free slot, else the first dormant owner's.
    let k = if free < OWNER_SLOTS { free } else { dormant };
    if k >= OWNER_SLOTS {
        po.overflow += 1;
        count(point, Loss::OwnerOverflow);
        return;
    }
    let stack = cached_stack(ctx, t, point, ts);
    po.owners[k] = Owner {
        since_ns: ts,
        tid: t,
        pid,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
        refs: 1,
        stack,
        point,
        pin: pin as u8,
        reported: 0,
        remote: remote as u8,
        _pad: [0; 3],
        last_slot: slot_addr,
        last_ns: ts,
        stack_ns: ts,
    };
}

/// A dormant owner pins the page again: a new holding, with the identity
/// it had; its stack is taken again only when it is older than
/// [`STACK_REUSE_NS`] or came through another entry point.
#[inline(always)]
fn revive(
    ctx: *mut core::ffi::c_void,
    o: &mut Owner,
    slot_addr: u64,
    point: u16,
    pin: bool,
    remote: bool,
    ts: u64,
) {
    if o.point != point || o.stack == 0 || ts.saturating_sub(o.stack_ns) >= STACK_REUSE_NS {
        o.stack = cached_stack(ctx, o.tid, point, ts);
        o.stack_ns = ts;
    }
    o.since_ns = ts;
    o.refs = 1;
    o.point = point;
    o.pin = pin as u8;
    o.reported = 0;
    o.remote = remote as u8;
    o.last_slot = slot_addr;
    o.last_ns = ts;
}

/// A thread's stack through one entry point is taken again only after this
/// long: a loop of O_DIRECT reads makes a new owner per I/O, and walking the
/// stack each time cost more than all the rest of the pin tracking.
const STACK_REUSE_NS: u64 = 1_000_000_000;

#[inline(always)]
fn cached_stack(ctx: *mut core::ffi::c_void, t: u32, point: u16, ts: u64) -> u32 {
    if conf!(stacks) == 0 {
        return 0;
    }
    let key = ((t as u64) << 16) | point as u64;
    if let Some(c) = unsafe { STACK_CACHE.get(key) }
        && c.stack != 0
        && ts.saturating_sub(c.ts_ns) < STACK_REUSE_NS
    {
        return c.stack;
    }
    let stack = stack_id(ctx, point);
    kept(
        point,
        STACK_CACHE.insert(
            key,
            StackSeen {
                stack,
                _pad: 0,
                ts_ns: ts,
            },
            0,
        ),
    );
    stack
}

/// A busy page was met: its owners not yet reported are sent (once each).
#[inline(always)]
pub fn report_owners(point: u16, page: u64, pfn: u64, pgmap: u64, refcount: i32) {
    let Some(po) = PAGE_OWNERS.get_ptr_mut(page) else {
        return;
    };
    // SAFETY: a map value (see add_owner).
    let po = unsafe { &mut *po };
    drop_stale(point, page, po, refcount);
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &mut po.owners[k];
        if live(o) && o.reported == 0 {
            o.reported = 1;
            submit_as(
                o.point,
                o.pid,
                o.tid,
                o.comm,
                PinOwner {
                    page,
                    pfn,
                    pgmap,
                    since_ns: o.since_ns,
                    refs: o.refs,
                    pin: Flag::new(o.pin != 0),
                    stack: StackId(o.stack),
                    remote: Flag::new(o.remote != 0),
                },
            );
        }
        k += 1;
    }
}

/// Owners cannot hold more references than the page has beyond its idle
/// count: when they seem to, references of the oldest ones were put where
/// no hooked put saw it (6.1 drops O_DIRECT's reference with
/// `folio_put_refs()`): the oldest loses the excess, or is closed when it
/// holds no more than that. Only before 6.15, where every reference is a gup or a transient
/// one (from 6.15 page-table mappings hold references too).
#[inline(always)]
fn drop_stale(point: u16, page: u64, po: &mut PageOwners, refcount: i32) {
    let idle_rule: u32 = conf!(idle_refcount);
    if idle_rule == 0 {
        return;
    }
    // One pass: what the owners hold and which is the oldest. One owner is
    // closed per busy page met (a wait meets its page again and again), which
    // keeps the verifier's walk short.
    let mut held = 0i64;
    let mut oldest = OWNER_SLOTS;
    let mut oldest_ns = u64::MAX;
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &po.owners[k];
        if live(o) {
            held += o.refs as i64 * if o.pin != 0 { PIN_BIAS as i64 } else { 1 };
            if o.since_ns < oldest_ns {
                oldest_ns = o.since_ns;
                oldest = k;
            }
        }
        k += 1;
    }
    let excess = held - (refcount as i64 - idle_rule as i64);
    if excess <= 0 || oldest >= OWNER_SLOTS {
        return;
    }
    // The oldest owner lost only the excess when it holds more than that:
    // a thread doing O_DIRECT in a loop adds a reference per I/O on 6.1 and
    // none of their puts is seen, yet its I/O in flight is why the page is
    // busy (closing it left the busy pages of a fio run without an owner).
    let o = &mut po.owners[oldest];
    let weight = if o.pin != 0 { PIN_BIAS as i64 } else { 1 };
    let lost = (excess + weight - 1) / weight;
    if lost < o.refs as i64 {
        o.refs -= lost as u32;
        return;
    }
    let gone = &mut po.owners[oldest];
    gone.refs = 0;
    if gone.reported != 0 {
        closed(point, page, gone, false);
    }
}

/// References on `page` were put (`refs` of them, as the put function
/// counts: a FOLL_PIN put of a small page is `PIN_BIAS`), or the page went
/// idle (`idle`: every owner closes).
#[inline(always)]
pub fn page_released(point: u16, page: u64, refs: i32, idle: bool) {
    let Some(po) = PAGE_OWNERS.get_ptr_mut(page) else {
        return;
    };
    // SAFETY: a map value (see add_owner).
    let po = unsafe { &mut *po };
    if idle {
        // Owners go dormant, the entry stays: the next pin of the page (an
        // O_DIRECT loop pins the same buffer page per I/O) then costs no map
        // insert and no identity read, and the LRU bounds what stays.
        // By reference: a copy of an owner is a 72-byte memcpy, a loop of
        // byte moves in BPF, on the put of every O_DIRECT into DAX memory.
        let mut k = 0;
        while k < OWNER_SLOTS {
            let o = &mut po.owners[k];
            if live(o) {
                if o.reported != 0 {
                    closed(point, page, o, true);
                }
                o.refs = 0;
            }
            k += 1;
        }
        return;
    }
    let (pin, n) = if refs >= PIN_BIAS && refs % PIN_BIAS == 0 {
        (1u8, (refs / PIN_BIAS) as u32)
    } else {
        (0u8, refs.max(1) as u32)
    };
    // Whose reference went: the putter's own when it is an owner (a process
    // draining its pipe, exiting), else the oldest owner of the kind put, else
    // of any kind (5.10 puts a pin as a plain put after subtracting the bias).
    // A put does not say whose reference it drops; this is the best guess.
    let me = (bpf_get_current_pid_tgid() >> 32) as u32;
    let mut own = OWNER_SLOTS;
    let mut best = OWNER_SLOTS;
    let mut best_ns = u64::MAX;
    let mut best_any = OWNER_SLOTS;
    let mut best_any_ns = u64::MAX;
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &po.owners[k];
        if live(o) {
            if o.pid == me && own == OWNER_SLOTS {
                own = k;
            }
            if o.pin == pin && o.since_ns < best_ns {
                best = k;
                best_ns = o.since_ns;
            }
            if o.since_ns < best_any_ns {
                best_any = k;
                best_any_ns = o.since_ns;
            }
        }
        k += 1;
    }
    let k = if own < OWNER_SLOTS {
        own
    } else if best < OWNER_SLOTS {
        best
    } else {
        best_any
    };
    if k >= OWNER_SLOTS {
        return;
    }
    let o = &mut po.owners[k];
    if o.refs > n {
        o.refs -= n;
        return;
    }
    o.refs = 0;
    if o.reported != 0 {
        closed(point, page, o, false);
    }
}

#[inline(always)]
fn closed(point: u16, page: u64, o: &Owner, by_idle: bool) {
    submit(
        point,
        PinRelease {
            page,
            pfn: page_to_pfn(page),
            since_ns: o.since_ns,
            owner_pid: o.pid,
            owner_tid: o.tid,
            pin: Flag::new(o.pin != 0),
            by_idle: Flag::new(by_idle),
        },
    );
}

/// `unpin_user_page(page)` / `unpin_user_pages(pages, n)` (6.15+, where
/// puts are not hooked one by one): pin references go away.
#[inline(always)]
pub fn unpinned(point: u16, args: &[u64; 6]) {
    let Some(ranges) = fsdax_ranges() else {
        return;
    };
    if point == idx::UNPIN_USER_PAGE {
        if is_fsdax(ranges, args[0]) {
            page_released(point, args[0], PIN_BIAS, false);
        }
        return;
    }
    let mut got = PageBuf::uninit();
    let n = read_pages(args[0], args[1], &mut got);
    let mut i = 0usize;
    while i < MAX_GUP_PAGES as usize {
        if i as u64 >= n {
            break;
        }
        let page = page_at(&got, i);
        i += 1;
        if is_fsdax(ranges, page) {
            page_released(point, page, PIN_BIAS, false);
        }
    }
}

/// A pagemap came to life: an FS-DAX one joins the set, and its struct
/// pages (pfns `[pfn_start, pfn_end)`) join the ranges.
#[inline(always)]
pub fn pagemap_known(point: u16, pgmap: u64, pfn_start: u64, pfn_end: u64, fs_dax: bool) {
    if !fs_dax || pgmap == 0 {
        return;
    }
    kept(point, FSDAX_PGMAPS.insert(pgmap, 1, 0));
    let span = PageSpan {
        lo: page_of_pfn(pfn_start),
        hi: page_of_pfn(pfn_end),
    };
    if let Some(ranges) = FSDAX_RANGES.get_ptr_mut(0) {
        // SAFETY: the one entry of an array map; pagemaps are born and die
        // rarely (two at once could lose one: userspace adds those of the
        // state at start, and the pgmap set stays right).
        if !unsafe { (*ranges).add(span) } {
            count(point, Loss::MapFull);
        }
    }
}

/// A pagemap goes away: out of the set and out of the ranges.
#[inline(always)]
pub fn pagemap_gone(pgmap: u64) {
    let _ = FSDAX_PGMAPS.remove(pgmap);
    let start: u64 = at::<u64>(pgmap, conf!(pgmap_range_off));
    if let Some(ranges) = FSDAX_RANGES.get_ptr_mut(0) {
        // SAFETY: as in pagemap_known.
        unsafe { (*ranges).remove(page_of_pfn(start >> 12)) };
    }
}
