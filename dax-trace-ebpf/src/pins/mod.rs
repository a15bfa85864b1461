//! Owners of FS-DAX pages: who took references through the gup entry points,
//! kept per page in `PAGE_OWNERS` (a pin is never streamed), sent as
//! `PinOwner` when a busy page they hold is met and closed by the puts.
//! Refused long-term pins are sent as they happen, with the file they
//! asked for named in the kernel (`naming`).
use aya_ebpf::helpers::generated::bpf_probe_read_kernel;
use dax_trace_common::{
    Flag, FsdaxRanges, Loss, PageSpan,
    field::{Dev, PathName, StackId},
    payload::{RefusedPin, path_from},
    probe::{GupShape, gup_shape, idx},
};

use crate::conf;
use crate::emit::{count, kept, stack_id, submit};
use crate::maps::{FSDAX_PGMAPS, FSDAX_RANGES};
use crate::read::{at, page_of_pfn, page_pgmap};

pub mod naming;
mod owners;

use owners::add_owner;
pub use owners::{page_released, report_owners};

/// Pages of one gup call that are looked at (a 4 KiB O_DIRECT pins one; a
/// 64 KiB one 16). Larger calls record their first pages only.
pub const MAX_GUP_PAGES: u64 = 16;

/// `GUP_PIN_COUNTING_BIAS`: a FOLL_PIN reference adds this much to the
/// refcount of a small page, and its put subtracts it.
pub(crate) const PIN_BIAS: i32 = 1024;

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
    // The slow path is hooked for its refusals only: where it is, pages
    // are followed through their pagemap lookups (`pagemap_looked_up`).
    if point == idx::GUP_LONGTERM_LOCKED || conf!(track_pins) == 0 {
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
    let start = arg(shape.start);
    // A `_remote` call pins another process's memory: its mm is argument 0.
    let mm = if shape.remote { arg(0) } else { 0 };
    let mut pin = RefusedPin {
        start,
        nr_pages: arg(shape.nr_pages),
        gup_flags: flags,
        ret: ret as i32,
        stack: StackId(stack_id(ctx, point)),
        pin: Flag::new(shape.pin || flags & conf!(foll_pin) != 0),
        path: PathName::EMPTY,
        dev: Dev(0),
        path_from: path_from::MAPS,
        ino: 0,
    };
    if let Some(file) = naming::file_at(mm, start) {
        pin.dev = file.dev;
        pin.ino = file.ino;
        pin.path = file.path;
        pin.path_from = file.path_from;
    }
    submit(point, pin);
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
            add_owner(ctx, page, slot_addr, point, pin as u8, shape.remote);
        }
    }
}

/// `get_dev_pagemap(pfn, pgmap)` at entry, before 6.15: gup looks up the
/// pagemap of every devmap page it takes (fast path, slow path, huge
/// pages), once per page and right before it takes the reference, and
/// ordinary memory never comes here. The caller is the owner; whether its
/// reference is a pin (`PIN_BIAS`) or a get is not known yet
/// ([`owners::KIND_UNKNOWN`]). Other callers (pagemap creation, memory
/// failure) look up pfns of no FS-DAX page or are rare.
#[inline(always)]
pub fn pagemap_looked_up(ctx: *mut core::ffi::c_void, point: u16, pfn: u64) {
    if conf!(track_pins) == 0 {
        return;
    }
    let Some(ranges) = fsdax_ranges() else {
        return;
    };
    let page = page_of_pfn(pfn);
    if is_fsdax(ranges, page) {
        // No pages array: each lookup is one reference, never a nested call.
        add_owner(ctx, page, 0, point, owners::KIND_UNKNOWN, false);
    }
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
