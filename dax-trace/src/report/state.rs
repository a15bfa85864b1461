//! The state at start in the text report: the section that says when it was
//! read and what it covered, and the lines it adds to each device and
//! pagemap (size, mount, holder as found, dm table, busy pages at start).
use std::fmt::Write as _;

use crate::collector::{DeviceSummary, PagemapSummary, StateAtStart};
use crate::human::time::Timeline;
use crate::human::{bytes, duration, plural};

/// Busy pages at start listed per pagemap (the rest are counted).
const BUSY_LISTED: usize = 16;

pub(super) fn state_text(out: &mut String, s: &StateAtStart, origin: Timeline) {
    let _ = writeln!(
        out,
        "\nState at start (read by {}, in {})",
        origin.at(s.ts_ns),
        duration(s.elapsed_ns)
    );
    let _ = writeln!(
        out,
        "  sources       {}",
        if s.available_sources.is_empty() {
            "none".to_string()
        } else {
            s.available_sources.join(", ")
        }
    );
    if !s.unavailable_sources.is_empty() {
        let _ = writeln!(
            out,
            "  not available here: {}",
            s.unavailable_sources.join(", ")
        );
    }
    let found = [
        (s.pagemaps, "pagemap"),
        (s.dax_devices, "dax device"),
        (s.mounts, "mount"),
        (s.dm_targets, "dm target"),
        (s.waits, "wait in progress"),
    ]
    .map(|(n, what)| plural(u64::from(n), what));
    let _ = writeln!(out, "  found         {}", found.join(", "));
    if s.pages_total > 0 || s.busy_pages > 0 {
        let coverage = if s.pages_total == 0 {
            String::new()
        } else {
            format!(
                " ({:.0}%)",
                s.pages_scanned as f64 * 100.0 / s.pages_total as f64
            )
        };
        let _ = writeln!(
            out,
            "  census        {} in {} of {} pages scanned{coverage}",
            plural(s.busy_pages, "busy page"),
            s.pages_scanned,
            s.pages_total
        );
    }
    if s.updates > 0 {
        let _ = writeln!(out, "  updates       {} while running", s.updates);
    }
}

/// What the state said about a device: size, mount, the dax_device as found,
/// its dm table.
pub(super) fn device_state_text(out: &mut String, d: &DeviceSummary) {
    if d.size_bytes > 0 {
        let _ = writeln!(out, "  size          {}", bytes(d.size_bytes));
    }
    if let Some(m) = &d.mount {
        let _ = writeln!(
            out,
            "  mounted       {}{}",
            m.label(),
            if m.at_start {
                " (since before the trace)"
            } else {
                ""
            }
        );
        if let Some(mode) = &m.dax_mode {
            let _ = writeln!(out, "  dax mode      {}", mode.describe());
        }
    }
    if let Some(p) = &d.present {
        let mut found = vec![if p.alive { "alive" } else { "dead" }.to_string()];
        found.push(if p.holder == 0 {
            "no holder".to_string()
        } else {
            format!("holder {:#x} (ops {:#x})", p.holder, p.holder_ops)
        });
        found.push(plural(u64::from(p.claims), "claim"));
        if !p.has_holders {
            found.push("kernel without holders".to_string());
        }
        let _ = writeln!(
            out,
            "  {}      {}",
            if p.at_start { "at start" } else { "updated " },
            found.join(", ")
        );
    }
    if !d.dm_targets.is_empty() {
        let name = if d.dm_name.is_empty() {
            String::new()
        } else {
            format!("{} ", d.dm_name)
        };
        for t in &d.dm_targets {
            let _ = writeln!(
                out,
                "  dm table      {name}{}+{} {} -> {} at sector {}{}",
                t.start_sector,
                t.sectors,
                t.target,
                t.member_disk,
                t.member_sector,
                if t.at_start {
                    " (since before the trace)"
                } else {
                    ""
                }
            );
        }
    }
}

/// Whether DAX was in effect per mount point, as last sampled.
pub(super) fn dax_modes_text(out: &mut String, modes: &[super::MountDaxMode], origin: Timeline) {
    if modes.is_empty() {
        return;
    }
    out.push_str("\nDAX in effect, per mount point (last sample)\n");
    for m in modes {
        let _ = writeln!(
            out,
            "  {} ({}, at {}): {}",
            m.mount_point,
            m.answer.dev,
            origin.at(m.answer.ts_ns),
            m.answer.mode.describe()
        );
    }
}

/// The census's busy pages of a pagemap.
pub(super) fn busy_at_start_text(out: &mut String, p: &PagemapSummary) {
    let total = p.busy_at_start.len() as u64 + p.busy_at_start_more;
    if total == 0 {
        return;
    }
    let _ = writeln!(out, "  busy at start {}", plural(total, "page"));
    for b in p.busy_at_start.iter().take(BUSY_LISTED) {
        let _ = writeln!(
            out,
            "    pfn {:#x} inode {} index {} refcount {} on {}",
            b.pfn,
            b.ino,
            b.index.map_or_else(|| "-".to_string(), |i| i.to_string()),
            b.refcount,
            b.dev
        );
    }
    let unlisted = total.saturating_sub(BUSY_LISTED.min(p.busy_at_start.len()) as u64);
    if unlisted > 0 {
        let _ = writeln!(out, "    ... and {unlisted} more");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_not_read_are_named_and_the_census_coverage_shown() {
        let s = StateAtStart {
            ts_ns: 1_004_000_000,
            available_sources: vec!["pagemaps".into(), "mounts".into()],
            unavailable_sources: vec!["waits".into(), "census".into()],
            pagemaps: 1,
            busy_pages: 2,
            pages_scanned: 512,
            pages_total: 2048,
            elapsed_ns: 4_000_000,
            ..StateAtStart::default()
        };
        let mut out = String::new();
        state_text(&mut out, &s, Timeline::relative(1_000_000_000));
        assert_eq!(
            out,
            "\nState at start (read by +0.004s, in 4.000 ms)\n\
             \x20 sources       pagemaps, mounts\n\
             \x20 not available here: waits, census\n\
             \x20 found         1 pagemap, 0 dax devices, 0 mounts, 0 dm targets, 0 waits in progress\n\
             \x20 census        2 busy pages in 512 of 2048 pages scanned (25%)\n"
        );
    }
}
