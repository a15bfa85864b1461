//! What the state at start adds to the dashboard's detail pane: the mount,
//! the dax_device as found, the dm table, and the pages busy at start.
use crate::collector::{Collector, DeviceState, PagemapState, StartBusyPage};

use crate::tui::model::view::BusyPage;

/// Pages busy at start listed in the detail pane (the count is complete).
const DETAIL_START_PAGES: usize = 64;

/// Topology lines from the state: mount, holder as found, dm targets.
pub(super) fn state_lines(d: &DeviceState) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(m) = &d.mount {
        let since = if m.at_start { " (at start)" } else { "" };
        lines.push(format!("{}{since}", m.label()));
        if let Some(mode) = &m.dax_mode {
            lines.push(mode.compact());
        }
    }
    // The holder shows in the holders list; here what the state found.
    if let Some(p) = &d.present {
        lines.push(format!(
            "{}: {}, {} claim{}",
            if p.at_start { "at start" } else { "updated" },
            if p.alive { "alive" } else { "dead" },
            p.claims,
            if p.claims == 1 { "" } else { "s" }
        ));
    }
    for t in &d.dm_targets {
        let name = if d.dm_name.is_empty() {
            String::new()
        } else {
            format!("{} ", d.dm_name)
        };
        lines.push(format!(
            "{name}{}+{} {} -> {} @{}",
            t.start_sector, t.sectors, t.target, t.member_disk, t.member_sector
        ));
    }
    lines
}

/// The pages busy at start on `d`'s pagemaps (those reported on its block
/// device, or all when it is not known) and not idle since, and how many in
/// all.
pub(super) fn busy_at_start(
    c: &Collector,
    d: &DeviceState,
    pagemaps: &[&PagemapState],
) -> (Vec<BusyPage>, u64) {
    let mine = |b: &&StartBusyPage| {
        b.idle_ns.is_none() && (d.identity.bdev.0 == 0 || b.dev == d.identity.bdev)
    };
    let pages = pagemaps
        .iter()
        .flat_map(|p| p.busy_at_start.iter().filter(mine));
    // Pages not kept are not known by device: counted for each user.
    let unlisted: u64 = pagemaps.iter().map(|p| p.busy_at_start_more).sum();
    let listed = pages.clone().count() as u64;
    let now = c.state_at_start().map_or(0, |s| s.ts_ns);
    (
        rows(pages.take(DETAIL_START_PAGES), c.totals().last_ts_ns, now),
        listed + unlisted,
    )
}

/// The rows of a pagemap's busy pages at start, and how many in all.
pub(super) fn start_rows(c: &Collector, p: &PagemapState) -> (Vec<BusyPage>, u64) {
    let still = p.busy_at_start.iter().filter(|b| b.idle_ns.is_none());
    let total = still.clone().count() as u64 + p.busy_at_start_more;
    let read = c.state_at_start().map_or(0, |s| s.ts_ns);
    let pages = still.take(DETAIL_START_PAGES);
    (rows(pages, c.totals().last_ts_ns, read), total)
}

fn rows<'a>(
    pages: impl Iterator<Item = &'a StartBusyPage>,
    now_ns: u64,
    read_ns: u64,
) -> Vec<BusyPage> {
    pages
        .map(|b| BusyPage {
            pfn: b.pfn,
            ino: b.ino,
            pgoff: b.index,
            // Busy at least since the reading.
            age_ns: now_ns.saturating_sub(read_ns),
            refcount: b.refcount,
            // The pane's title says these were busy at start.
            owner: String::new(),
            pinner: None,
        })
        .collect()
}
