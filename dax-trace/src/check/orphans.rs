//! `no-orphaned-busy-pages`: no DAX page left its file while still busy.
//! Before 6.15, eviction (the last `iput` after unlink) and unmount drop a
//! file's DAX entries without waiting for pinned pages: the blocks go back
//! to the filesystem while DMA (or a pipe) still targets them, and the next
//! file to get them can receive the DMA's data.
use super::CheckOptions;
use super::assertions::{Clock, assertion, label, lost_at_family, note_unlisted};
use super::verdict::{Assertion, Status};
use crate::collector::Collector;
use crate::collector::pins_view::ownership_phrase;
use crate::human::duration;
use dax_trace_common::probe::Family;

pub(super) fn no_orphaned_busy_pages(
    c: &Collector,
    opts: &CheckOptions,
    clock: &Clock<'_>,
) -> Assertion {
    let f = &c.findings().orphaned_pages;
    let mut details: Vec<String> = f
        .examples
        .iter()
        .filter(|o| opts.selects(o.identity.as_ref(), Some(o.dev)))
        .map(|o| {
            let index = o.index.map(|i| format!(" pgoff {i}")).unwrap_or_default();
            let pages = if o.entry_pages > 1 {
                format!(", page {} of a {}-page entry", o.first_busy, o.entry_pages)
            } else {
                String::new()
            };
            let after = match o.busy_after_ns {
                Some(ns) => format!("; it stayed busy {} after", duration(ns)),
                None => "; still busy at the end of the trace".to_string(),
            };
            let owners = if o.owners.is_told() {
                format!(
                    "; page {}",
                    ownership_phrase(&o.owners, o.by.ts_ns, clock.stacks)
                )
            } else {
                String::new()
            };
            format!(
                "{}: {} let pfn {:#x} (inode {}{index}, refcount {}{pages}) go at {} while it was busy{after}{owners}{}",
                label(o.identity.as_ref(), o.dev),
                o.by,
                o.pfn,
                o.ino,
                o.refcount,
                clock.at(o.by.ts_ns),
                clock.stack(o.stack),
            )
        })
        .collect();
    if !details.is_empty() {
        note_unlisted(&mut details, f, !opts.devices.is_empty());
    }
    let mut a = assertion(
        "no-orphaned-busy-pages",
        "no file lets a DAX page go while it is busy (eviction, unmount or truncate under DMA)",
        details,
    );
    // A page seen let go is a failure whatever else was lost; a pass with
    // orphaned-page events lost cannot be told.
    let lost = lost_at_family(c, Family::Orphan);
    if a.status == Status::Pass && lost > 0 {
        a.status = Status::Inconclusive;
        a.details.push(format!(
            "{lost} orphaned-page events were lost by the kernel (ring buffer or its table full): the trace cannot tell"
        ));
    }
    a
}
