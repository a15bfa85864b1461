//! The per-pagemap and per-device sections of the text report.
use std::fmt::Write as _;

use crate::collector::{ClaimOutcome, DeviceSummary, PagemapSummary};
use crate::human::time::Timeline;
use crate::human::{bytes, duration};
use dax_trace_common::memory::MemoryKind;

use super::list;

fn holder(h: u64) -> String {
    if h == 0 {
        "-".to_string()
    } else {
        format!("{h:#x}")
    }
}

pub(super) fn pagemap_text(out: &mut String, p: &PagemapSummary, time: Timeline) {
    let id = &p.identity;
    let kind = match (
        id.kind.filter(|k| *k != MemoryKind::Unknown),
        id.fs_dax,
        id.memory_type,
    ) {
        (Some(k), _, _) => k.name().to_string(),
        (None, Some(true), _) => "fs-dax".to_string(),
        (None, _, Some(t)) => format!("memory type {t}"),
        (None, _, None) => "created before the trace".to_string(),
    };
    let range = match (id.pfn_range, p.pages) {
        (Some((start, end)), Some(pages)) if p.pre_existing => {
            format!(
                ", pfn {start:#x}-{end:#x} ({pages} pages, {})",
                bytes(pages * PAGE_SIZE)
            )
        }
        (Some((start, end)), Some(pages)) => {
            format!(", pfn {start:#x}-{end:#x} ({pages} pages)")
        }
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "\npagemap {:#x}: {kind}{range}{}{}",
        id.pgmap,
        if p.pre_existing {
            ", existed before the trace"
        } else {
            ""
        },
        if p.destroyed { ", destroyed" } else { "" }
    );
    if !id.disk.is_empty() || !id.backing.is_empty() {
        let _ = writeln!(
            out,
            "  backed by     {}",
            [id.disk.as_str(), id.backing.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" on ")
        );
    }
    if !id.driver.is_empty() {
        let _ = writeln!(out, "  driver        {}", id.driver);
    }
    for life in &p.earlier {
        let _ = writeln!(
            out,
            "  earlier life  {}: {} to {}",
            life.what,
            life.created_ns
                .map_or_else(|| "before the trace".to_string(), |t| time.at(t)),
            life.destroyed_ns
                .map_or_else(|| "?".to_string(), |t| time.at(t)),
        );
    }
    let _ = writeln!(out, "  used by       {}", list(&p.devices));
    let _ = writeln!(
        out,
        "  busy pages    {} now ({} stuck), {} went idle, longest busy {}",
        p.busy_now,
        p.stuck_pages,
        p.busy_cleared,
        duration(p.longest_busy_ns)
    );
    let _ = writeln!(
        out,
        "  puts          {} ({} to idle), {} idle transitions of watched pages",
        p.puts, p.idles, p.idle_transitions
    );
    if p.memory_failures > 0 {
        let _ = writeln!(out, "  memory failures {}", p.memory_failures);
    }
    super::state::busy_at_start_text(out, p);
}

/// Bytes per page in the pfn ranges.
const PAGE_SIZE: u64 = 4096;

/// A claim held since before the trace: what holds it (`xfs on /mnt/x`,
/// `dm table of dm-0`, when the state told it) and its holder pointer.
fn held(holder: u64, what: &str) -> String {
    let pointer = if holder == 0 {
        "no holder".to_string()
    } else {
        format!("holder {holder:#x}")
    };
    if what.is_empty() {
        pointer
    } else {
        format!("{what} ({pointer})")
    }
}

pub(super) fn device_text(out: &mut String, d: &DeviceSummary, origin: Timeline) {
    let _ = writeln!(
        out,
        "\ndevice {}{}{}",
        d.label,
        if d.identity.dax_dev != 0 && (d.identity.bdev.0 != 0 || !d.identity.disk.is_empty()) {
            format!(", dax_dev {:#x}", d.identity.dax_dev)
        } else {
            String::new()
        },
        if d.killed { ", killed" } else { "" }
    );
    super::state::device_state_text(out, d);
    let b = &d.balance;
    let _ = write!(
        out,
        "  claims        {} granted, {} refused, {} released, {} unmatched releases; {} open",
        b.claims, b.refused, b.releases, b.unmatched_releases, d.outstanding
    );
    if b.pre_existing > 0 {
        let _ = write!(
            out,
            "; {} held since before the trace ({} of them released)",
            b.pre_existing, b.pre_existing_released
        );
    }
    out.push('\n');
    if let Some(h) = &d.current_holder {
        if h.pre_existing {
            let _ = writeln!(
                out,
                "  held by       {} since before the trace",
                held(h.holder, &h.mount)
            );
        } else {
            let _ = writeln!(
                out,
                "  held by       holder {} since {}, claimed by {}",
                holder(h.holder),
                origin.at(h.by.ts_ns),
                h.by
            );
        }
    }
    for c in &d.history {
        let outcome = match (c.outcome, &c.released) {
            (ClaimOutcome::Refused, _) => "refused".to_string(),
            (ClaimOutcome::Granted, Some(r)) => {
                format!("released {} by {r}", origin.at(r.ts_ns))
            }
            (ClaimOutcome::Granted, None) => "open".to_string(),
        };
        if c.pre_existing {
            let _ = writeln!(
                out,
                "    before the trace: held by {} -> {}",
                held(c.holder, &c.mount),
                outcome
            );
            continue;
        }
        let _ = writeln!(
            out,
            "    {} claim by {} holder {} -> {}",
            origin.at(c.claimed.ts_ns),
            c.claimed,
            holder(c.holder),
            outcome
        );
    }
    if d.waits > 0 || d.stuck_waits > 0 || d.busy_pages_seen > 0 {
        let _ = writeln!(
            out,
            "  waits         {} (total {}, max {}, p50 {}{}, p99 {}{}, {} errors); {} busy-page reports; {} stuck",
            d.waits,
            duration(d.wait_total_ns),
            duration(d.wait_max_ns),
            d.wait_percentiles.mark(),
            duration(d.wait_p50_ns),
            d.wait_percentiles.mark(),
            duration(d.wait_p99_ns),
            d.wait_errors,
            d.busy_pages_seen,
            d.stuck_waits
        );
    }
    if d.faults.pte + d.faults.pmd > 0 {
        let _ = writeln!(
            out,
            "  faults        {} pte, {} pmd",
            d.faults.pte, d.faults.pmd
        );
    }
    if let Some(f) = &d.flushes {
        let mark = f.percentiles.mark();
        let _ = writeln!(
            out,
            "  flushes       {} to the host (p50 {mark}{}, p99 {mark}{}, max {}, total {}, {} failed)",
            f.count,
            duration(f.p50_ns),
            duration(f.p99_ns),
            duration(f.max_ns),
            duration(f.total_ns),
            f.errors
        );
    }
    if !d.dm_members.is_empty() || !d.dm_parents.is_empty() || d.dm_taken + d.dm_dropped > 0 {
        let _ = writeln!(
            out,
            "  dm            members {}; under {}; taken {} / dropped {} as a member",
            list(&d.dm_members),
            list(&d.dm_parents),
            d.dm_taken,
            d.dm_dropped
        );
    }
    if d.holder_failures > 0 {
        let _ = writeln!(out, "  holder notified of {} failures", d.holder_failures);
    }
}
