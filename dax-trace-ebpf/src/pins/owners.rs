//! The owners kept per FS-DAX page: opened and revived by the gup exits,
//! reported when a busy page is met, closed by puts and idle transitions.
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid};
use dax_trace_common::{
    Flag, Loss,
    field::StackId,
    payload::{PinOwner, PinRelease},
};

use crate::conf;
use crate::emit::{count, count_owner_page, kept, now, stack_id, submit, submit_as};
use crate::maps::{NO_OWNERS, OWNER_SLOTS, Owner, PAGE_OWNERS, PageOwners, STACK_CACHE, StackSeen};
use crate::read::page_to_pfn;

use super::PIN_BIAS;

/// `Owner::pin` of a reference taken where the gup flags are not known
/// (a pagemap lookup): a get or a pin, decided by the first put of it or
/// by the page's refcount when the page is met busy. 0 is a get, 1 a pin.
pub const KIND_UNKNOWN: u8 = 2;

/// A reference of this kind weighs this much in the refcount; an unknown
/// one is a pin when the page holds at least a pin's worth beyond idle.
#[inline(always)]
fn weight(kind: u8, beyond_idle: i64) -> i64 {
    if kind == 1 || (kind == KIND_UNKNOWN && beyond_idle >= PIN_BIAS as i64) {
        PIN_BIAS as i64
    } else {
        1
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
pub(super) fn add_owner(
    ctx: *mut core::ffi::c_void,
    page: u64,
    slot_addr: u64,
    point: u16,
    kind: u8,
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
            match PAGE_OWNERS.insert(page, empty, 0) {
                Ok(()) => count_owner_page(point),
                Err(_) => count(point, Loss::MapFull),
            }
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
    let mut free = OWNER_SLOTS;
    let mut dormant = OWNER_SLOTS;
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &mut po.owners[k];
        if o.tid == t && o.pid == pid {
            if o.refs == 0 {
                revive(ctx, o, slot_addr, point, kind, remote, now());
                return;
            }
            // Only a pages array slot can be handed back by an outer call
            // (slot 0: a pagemap lookup, one reference each, and no clock
            // read on the path every O_DIRECT into DAX memory takes on 6.1).
            if slot_addr == 0 {
                o.refs += 1;
            } else {
                let ts = now();
                let nested =
                    o.last_slot == slot_addr && ts.saturating_sub(o.last_ns) < NESTED_WINDOW_NS;
                if !nested {
                    o.refs += 1;
                }
                o.last_slot = slot_addr;
                o.last_ns = ts;
            }
            // The outer call of a nested pair names the entry point.
            o.point = point;
            if kind == 1 || o.pin == KIND_UNKNOWN {
                o.pin = kind;
            }
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
    let ts = now();
    let stack = cached_stack(ctx, t, point, ts);
    po.owners[k] = Owner {
        since_ns: ts,
        tid: t,
        pid,
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
        refs: 1,
        stack,
        point,
        pin: kind,
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
    kind: u8,
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
    o.pin = kind;
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
    let beyond_idle = refcount as i64 - conf!(idle_refcount) as i64;
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &mut po.owners[k];
        if live(o) && o.reported == 0 {
            o.reported = 1;
            if o.pin == KIND_UNKNOWN {
                o.pin = (weight(KIND_UNKNOWN, beyond_idle) != 1) as u8;
            }
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
    let beyond_idle = refcount as i64 - idle_rule as i64;
    let mut held = 0i64;
    let mut oldest = OWNER_SLOTS;
    let mut oldest_ns = u64::MAX;
    let mut k = 0;
    while k < OWNER_SLOTS {
        let o = &po.owners[k];
        if live(o) {
            held += o.refs as i64 * weight(o.pin, beyond_idle);
            if o.since_ns < oldest_ns {
                oldest_ns = o.since_ns;
                oldest = k;
            }
        }
        k += 1;
    }
    let excess = held - beyond_idle;
    if excess <= 0 || oldest >= OWNER_SLOTS {
        return;
    }
    // The oldest owner lost only the excess when it holds more than that:
    // a thread doing O_DIRECT in a loop adds a reference per I/O on 6.1 and
    // none of their puts is seen, yet its I/O in flight is why the page is
    // busy (closing it left the busy pages of a fio run without an owner).
    let o = &mut po.owners[oldest];
    let w = weight(o.pin, beyond_idle);
    // excess > 0; a pin's worth is 1024 (no signed division in BPF).
    const _: () = assert!(PIN_BIAS == 1 << 10);
    let lost = if w == 1 {
        excess
    } else {
        (excess + w - 1) >> 10
    };
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
            if (o.pin == pin || o.pin == KIND_UNKNOWN) && o.since_ns < best_ns {
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
    // The put tells what an unknown reference was.
    if o.pin == KIND_UNKNOWN {
        o.pin = pin;
    }
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
            pin: Flag::new(o.pin == 1),
            by_idle: Flag::new(by_idle),
        },
    );
}
