//! The `orphaned pages` and `blocked waits` sections of `report`: pages a
//! file let go while busy (before 6.15: eviction, unmount or truncate under
//! DMA), and eviction waits (6.15+) blocked on a page someone still holds.
use std::fmt::Write as _;

use crate::collector::Summary;
use crate::collector::pins_view::ownership_phrase;
use crate::human::duration;
use crate::human::time::Timeline;
use crate::stacks::StackTable;

/// Both sections (nothing when there was neither).
pub(super) fn orphans_text(out: &mut String, s: &Summary, stacks: &StackTable, time: Timeline) {
    if !s.orphaned_page_list.is_empty() {
        out.push_str("\norphaned pages (let go by their file while still busy)\n");
        for o in &s.orphaned_page_list {
            let device = o
                .identity
                .as_ref()
                .map_or_else(|| o.dev.to_string(), |i| i.label());
            let index = o.index.map(|i| format!(" pgoff {i}")).unwrap_or_default();
            let after = match o.busy_after_ns {
                Some(ns) => format!("busy {} after", duration(ns)),
                None => "still busy at the end".to_string(),
            };
            let owners = if o.owners.is_told() {
                format!(
                    "; {}",
                    ownership_phrase(&o.owners, o.by.ts_ns, Some(stacks))
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {device}: pfn {:#x} (inode {}{index}, refcount {}) let go by {} at {}, {after}{owners}",
                o.pfn,
                o.ino,
                o.refcount,
                o.by,
                time.at(o.by.ts_ns),
            );
        }
        more(out, s.orphaned_pages, s.orphaned_page_list.len());
    }
    if !s.blocked_wait_list.is_empty() {
        out.push_str("\nblocked waits (uninterruptible, on a page still busy)\n");
        for w in &s.blocked_wait_list {
            let (device, waiter, owners) = super::stuck::waiter_parts(w, stacks);
            let _ = writeln!(
                out,
                "  {device}: {waiter} evicting inode {} waits on busy pfn {:#x} (refcount {}) since {}, {} when reported{owners}",
                w.ino,
                w.pfn,
                w.refcount,
                time.at(w.wait_begin_ns),
                duration(w.reported_ns.saturating_sub(w.wait_begin_ns)),
            );
        }
        more(out, s.blocked_waits, s.blocked_wait_list.len());
    }
}

fn more(out: &mut String, count: u64, listed: usize) {
    let unlisted = count.saturating_sub(listed as u64);
    if unlisted > 0 {
        let _ = writeln!(out, "  ... and {unlisted} more not listed");
    }
}
