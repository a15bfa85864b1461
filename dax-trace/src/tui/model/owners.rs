//! Busy pages with their owners for the detail pane: who pins each (from
//! the collector's owners model), with the owner in full for the pane's
//! stack box when that page is selected.
use crate::collector::{Collector, Ownership, PinOwnerRecord};

use crate::tui::model::view::{BusyPage, Pinner};

/// `fio[585]`, `+N` when more tasks hold the page, in parentheses when
/// they no longer do (the page is still busy: references from elsewhere).
fn owner_label(c: &Collector, pfn: u64) -> String {
    match c.ownership(pfn) {
        Ownership::Owners { owners } => {
            let label = match owners.split_first() {
                Some((first, [])) => who(first),
                Some((first, rest)) => format!("{}+{}", who(first), rest.len()),
                None => return "?".to_string(),
            };
            if owners.iter().any(PinOwnerRecord::is_open) {
                label
            } else {
                format!("({label})")
            }
        }
        Ownership::PinnedBeforeAttach => "at start".to_string(),
        Ownership::Unknown => "?".to_string(),
        Ownership::NotTraced => String::new(),
    }
}

fn who(o: &PinOwnerRecord) -> String {
    format!("{}[{}]", o.comm, o.tid)
}

/// Rows of the busy page table, in the order given.
pub(super) fn busy_rows<'a>(
    c: &Collector,
    pages: impl Iterator<Item = &'a crate::collector::BusyPage>,
    now_ns: u64,
) -> Vec<BusyPage> {
    pages
        .map(|b| BusyPage {
            pfn: b.pfn,
            ino: b.ino,
            pgoff: b.index,
            age_ns: now_ns.saturating_sub(b.since_ns),
            refcount: b.refcount,
            owner: owner_label(c, b.pfn),
            pinner: pinner(c, b.pfn, now_ns),
        })
        .collect()
}

/// The oldest owner of `pfn`, when one was reported.
fn pinner(c: &Collector, pfn: u64, now_ns: u64) -> Option<Pinner> {
    match c.ownership(pfn) {
        Ownership::Owners { owners } => owners.first().map(|o| Pinner {
            pfn,
            who: who(o),
            entry: o.entry.clone(),
            // How long it held the page: until now, or until it released it.
            held_ns: o
                .released
                .as_ref()
                .map_or(now_ns, |r| r.ts_ns)
                .saturating_sub(o.since_ns),
            released: !o.is_open(),
            stack: o.stack,
            frames: Vec::new(),
        }),
        _ => None,
    }
}
