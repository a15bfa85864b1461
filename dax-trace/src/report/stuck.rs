//! The stuck waits `report` counts, each named as `check` names them: the
//! device, the waiter, the page and its pagemap, since when and for how
//! long it slept, and who held the page when the kernel owners are known.
use std::fmt::Write as _;

use crate::collector::pins_view::ownership_phrase;
use crate::collector::{StuckWaitRecord, Summary};
use crate::human::duration;
use crate::human::time::{Timeline, task};
use crate::stacks::StackTable;

/// The `stuck waits` section (nothing when there were none).
pub(super) fn stuck_text(out: &mut String, s: &Summary, stacks: &StackTable, time: Timeline) {
    if s.stuck_wait_list.is_empty() {
        return;
    }
    out.push_str("\nstuck waits (a waiter asleep on a page already idle)\n");
    for w in &s.stuck_wait_list {
        let (device, waiter, owners) = waiter_parts(w, stacks);
        let (since, least) = if w.at_attach || w.wait_begin_ns < time.origin_ns {
            (
                "before the trace (found at attach)".to_string(),
                "at least ",
            )
        } else {
            (time.at(w.wait_begin_ns), "")
        };
        let _ = writeln!(
            out,
            "  {device}: {waiter} on pfn {:#x} of pagemap {:#x} (inode {}, refcount {}) since {since}, asleep {least}{} when reported at {}{owners}",
            w.pfn,
            w.pgmap,
            w.ino,
            w.refcount,
            duration(w.reported_ns.saturating_sub(w.wait_begin_ns)),
            time.at(w.reported_ns),
        );
    }
    let unlisted = s.stuck_waits.saturating_sub(s.stuck_wait_list.len() as u64);
    if unlisted > 0 {
        let _ = writeln!(out, "  ... and {unlisted} more not listed");
    }
}

/// The device, the waiter and `; page <owners>` (empty when nothing is
/// known of them) of a waiter the scanner reported, stuck or blocked.
pub(super) fn waiter_parts(w: &StuckWaitRecord, stacks: &StackTable) -> (String, String, String) {
    let device = w
        .identity
        .as_ref()
        .map_or_else(|| w.dev.to_string(), |i| i.label());
    let waiter = match &w.waiter {
        Some(a) => task(a.comm, a.pid, w.waiter_tid),
        None => format!("?[?/{}]", w.waiter_tid),
    };
    let owners = if w.owners.is_told() {
        format!(
            "; page {}",
            ownership_phrase(&w.owners, w.reported_ns, Some(stacks))
        )
    } else {
        String::new()
    };
    (device, waiter, owners)
}
