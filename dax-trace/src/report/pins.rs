//! The page owners section of the text report.
use std::fmt::Write as _;

use crate::collector::PinsSummary;
use crate::collector::pins_view::{busy_page_line, owner_phrase, refused_line, via};
use crate::human::duration;
use crate::human::time::Timeline;
use crate::stacks::StackTable;

/// Busy pages with their owners, owners still holding pages, refused pins.
pub(super) fn pins_text(
    out: &mut String,
    p: &PinsSummary,
    stacks: &StackTable,
    origin: Timeline,
    end_ns: u64,
) {
    if p.is_empty() {
        return;
    }
    if !p.busy_pages.is_empty() {
        out.push_str("\nbusy at the end of the trace\n");
        for b in &p.busy_pages {
            let _ = writeln!(out, "  {}", busy_page_line(b, Some(stacks)));
        }
    }
    if !p.open_owners.is_empty() {
        out.push_str("\npage owners at the end of the trace\n");
        for o in &p.open_owners {
            let _ = writeln!(
                out,
                "  pfn {:#x} {}",
                o.pfn,
                owner_phrase(o, end_ns, Some(stacks))
            );
        }
    }
    if !p.released_owners.is_empty() {
        out.push_str("\npage owners released during the trace\n");
        for o in &p.released_owners {
            let Some(r) = &o.released else { continue };
            let _ = writeln!(
                out,
                "  pfn {:#x} pinned by {} at {} via {}, held {}, released at {}{}",
                o.pfn,
                crate::human::time::task(o.comm, o.pid, o.tid),
                origin.at(o.since_ns),
                via(&o.entry, o.stack, Some(stacks)),
                duration(r.ts_ns.saturating_sub(o.since_ns)),
                origin.at(r.ts_ns),
                if r.by_idle { " (page went idle)" } else { "" },
            );
        }
    }
    if !p.refused.is_empty() {
        out.push_str("\nrefused long-term pins\n");
        for r in &p.refused {
            let _ = writeln!(out, "  {}", refused_line(r, Some(stacks)));
        }
    }
}
