//! DAX entries dropped from their file while a page of theirs is busy
//! (`dax_disassociate_entry` with `trunc`), and the moment such a page
//! goes idle after. Before 6.15 eviction and unmount call it without
//! waiting for busy pages: the file's blocks go back while DMA may still
//! write into them.
use dax_trace_common::{
    Dev, MAX_ORPHANED_PAGES,
    field::StackId,
    payload::{OrphanIdle, PageOrphaned},
};

use crate::conf;
use crate::emit::{count, now, stack_id, submit, submit_at, tid};
use crate::maps::{ORPHANS, Orphan};
use crate::pins;
use crate::read::{
    at, inode_ident, page_index, page_of_pfn, page_pgmap, page_refcount, page_to_pfn,
};

use super::Ctx;

/// `DAX_SHIFT` (every generation): the entry's value is `pfn << 4 | flags`,
/// stored as an xarray value (`v << 1 | 1`).
const ENTRY_PFN_SHIFT: u64 = 5;
const DAX_PMD: u64 = 1 << 1;
const DAX_ZERO_PAGE: u64 = 1 << 2;
const DAX_EMPTY: u64 = 1 << 3;
/// Pages of a PMD entry on x86-64.
const PMD_PAGES: u32 = 512;

#[inline(always)]
fn slot(page: u64) -> u32 {
    ((page >> 6) % MAX_ORPHANED_PAGES as u64) as u32
}

/// `dax_disassociate_entry(entry, mapping, trunc)` at entry, before the
/// kernel clears the pages' mapping and index.
#[inline(always)]
pub(super) fn entry_dropped(ctx: Ctx, point: u16, entry: u64, mapping: u64, trunc: u64) {
    // trunc = false: an entry replaced or invalidated, the block stays
    // with the file (every write fault into a hole comes here).
    if trunc & 0xff == 0 {
        return;
    }
    let flags = entry >> 1;
    if flags & (DAX_ZERO_PAGE | DAX_EMPTY) != 0 {
        return;
    }
    let first_pfn = entry >> ENTRY_PFN_SHIFT;
    let pages = if flags & DAX_PMD != 0 { PMD_PAGES } else { 1 };
    let idle_rule = conf!(idle_refcount) as i32;
    // The first busy page only, and nothing after the loop depends on the
    // loop counter (the pfn comes back from the page's address): the
    // verifier then walks the rest of the program once, not once per page
    // it could have left at (512 of them overran 5.10's budget).
    let mut first = 0u64;
    let mut first_count = 0i32;
    let mut found = false;
    let mut i = 0u32;
    // One bound in the loop condition, the other a break: 5.10's CFG check
    // refuses the fall-through back edge LLVM makes of `a && b` here.
    while i < PMD_PAGES {
        if i >= pages {
            break;
        }
        let page = page_of_pfn(first_pfn + i as u64);
        let count = page_refcount(page);
        if count > idle_rule {
            first = page;
            first_count = count;
            found = true;
            break;
        }
        i += 1;
    }
    if !found {
        return;
    }
    let pfn = page_to_pfn(first);
    let pgmap = page_pgmap(first);
    let host = at::<u64>(mapping, conf!(mapping_host_off));
    let (ino, dev) = inode_ident(host);
    // Owners first: the record that follows names them.
    pins::report_owners(point, first, pfn, pgmap, first_count);
    // The record's time is the orphan's: `orphan-idle` names it by it.
    let ts = now();
    let t = tid();
    submit_at(
        point,
        ts,
        PageOrphaned {
            page: first,
            pfn,
            pgmap,
            mapping,
            ino,
            dev: Dev(dev),
            first_busy: pfn.wrapping_sub(first_pfn) as u32,
            index: page_index(first),
            refcount: first_count as u64,
            entry_pages: pages,
            stack: StackId(stack_id(ctx, point)),
        },
    );
    let Some(o) = ORPHANS.get_ptr_mut(slot(first)) else {
        return;
    };
    // SAFETY: array slot; a racing writer can only replace it wholesale.
    let o = unsafe { &mut *o };
    if o.page != 0 && o.page != first {
        // Its idle will not be seen: counted, never silent.
        count(point, dax_trace_common::Loss::MapFull);
        return;
    }
    *o = Orphan {
        page: first,
        pfn,
        orphaned_ns: ts,
        ino,
        dev,
        tid: t,
    };
}

/// A put or the scanner saw `page` with `refcount`: when it is an orphan
/// and idle by the rule now, say so and stop watching it.
#[inline(always)]
pub(super) fn orphan_check(point: u16, page: u64, refcount: i32) {
    let Some(o) = ORPHANS.get_ptr_mut(slot(page)) else {
        return;
    };
    // SAFETY: array slot.
    let o = unsafe { &mut *o };
    if o.page != page || o.page == 0 || refcount > conf!(idle_refcount) as i32 {
        return;
    }
    let ended = *o;
    o.page = 0;
    submit(
        point,
        OrphanIdle {
            page: ended.page,
            pfn: ended.pfn,
            orphaned_ns: ended.orphaned_ns,
            refcount: refcount.max(0) as u64,
            ino: ended.ino,
            dev: Dev(ended.dev),
            orphaner_tid: ended.tid,
        },
    );
}

/// The scanner's pass over the orphans: puts that the hooked put
/// functions never see (6.1's O_DIRECT completion) still end them.
#[inline(always)]
pub(super) fn orphan_scan(point: u16) {
    let mut i = 0u32;
    while i < MAX_ORPHANED_PAGES {
        if let Some(o) = ORPHANS.get_ptr(i) {
            // SAFETY: array slot.
            let page = unsafe { (*o).page };
            if page != 0 {
                orphan_check(point, page, page_refcount(page));
            }
        }
        i += 1;
    }
}
