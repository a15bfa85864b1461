//! `daxtrace report`: the per-pagemap and per-device summary of a trace,
//! as a [`Report`] (what `report --json` prints) and its text rendering. In
//! the library beside `check`, so the binary is only arguments and wiring
//! and other front ends can print the same report.
use std::fmt::Write as _;
use std::path::Path;

mod orphans;
mod pins;
mod records;
mod state;
mod stuck;

use serde::Serialize;

use crate::collector::Summary;
use crate::human::duration;
use crate::human::time::{TimeBase, Timeline};
use crate::source::replay::Folded;
use crate::stacks::{StackRecord, StackTable};
use records::{device_text, pagemap_text};

/// What `report` prints, text or JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The JSON schema's version (docs/json.md).
    pub schema: u32,
    pub file: String,
    pub kernel_release: String,
    pub tool_version: String,
    /// `complete`, or where and why reading stopped.
    pub end: String,
    pub summary: Summary,
    /// The kernel stacks the summary names by id (page owners, refused
    /// pins), symbolized, innermost frame first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<StackRecord>,
    /// Whether DAX was in effect, per mount point: the last sample the
    /// trace carries of each (mounts unmounted since included).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dax_modes: Vec<MountDaxMode>,
    /// For the text form only: every stack of the trace.
    #[serde(skip)]
    table: StackTable,
    /// For the text form only: the clock event times are printed in.
    #[serde(skip)]
    pub time: TimeBase,
    #[serde(skip)]
    mono_to_wall_ns: i128,
}

impl Report {
    pub fn new(path: &Path, folded: &Folded, stacks: &StackTable) -> Self {
        let summary = folded.collector.summary();
        let named = summary
            .pins
            .stack_ids()
            .into_iter()
            .filter_map(|id| stacks.get(id))
            .map(|s| (*s).clone())
            .collect();
        Self {
            schema: crate::json::SCHEMA_VERSION,
            file: path.display().to_string(),
            kernel_release: folded.header.session.kernel_release.clone(),
            tool_version: folded.header.tool_version.clone(),
            end: folded.end.to_string(),
            summary,
            stacks: named,
            dax_modes: folded
                .collector
                .dax_answers()
                .map(|(at, a)| MountDaxMode {
                    mount_point: at.to_string(),
                    answer: a.clone(),
                })
                .collect(),
            table: stacks.clone(),
            time: TimeBase::Rel,
            mono_to_wall_ns: folded.header.session.monotonic_to_realtime_ns,
        }
    }
}

/// The last `state-dax-mode` sample of one mount point.
#[derive(Debug, Serialize)]
pub struct MountDaxMode {
    pub mount_point: String,
    #[serde(flatten)]
    pub answer: crate::collector::DaxAnswer,
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// The report as indented JSON (addresses and devices as strings, see
/// [`crate::json`]), ending in a newline.
pub fn render_json(r: &Report) -> Result<String, serde_json::Error> {
    let mut s = crate::json::to_string_pretty(r)?;
    s.push('\n');
    Ok(s)
}

/// The human report.
pub fn render_text(r: &Report) -> String {
    let s = &r.summary;
    let t = &s.totals;
    let origin = Timeline::new(r.time, t.first_ts_ns.unwrap_or(0), r.mono_to_wall_ns);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "daxtrace report: {} (kernel {}, {} events over {}, {})",
        r.file,
        r.kernel_release,
        t.events,
        duration(t.span_ns()),
        r.end
    );
    if let Some(state) = &s.state_at_start {
        state::state_text(&mut out, state, origin);
    }
    if s.pagemaps.is_empty() {
        out.push_str("\nno pagemap seen\n");
    }
    for p in &s.pagemaps {
        pagemap_text(&mut out, p, origin);
    }
    if s.devices.is_empty() {
        out.push_str("\nno device seen\n");
    }
    for d in &s.devices {
        device_text(&mut out, d, origin);
    }
    state::dax_modes_text(&mut out, &r.dax_modes, origin);
    if !s.holders.is_empty() {
        out.push_str("\nholders\n");
        for h in &s.holders {
            let devices: Vec<String> = h.open.iter().map(|l| l.identity.label()).collect();
            let _ = writeln!(
                out,
                "  {:<20} open {} on {}; {} recent claims{}",
                if h.holder == 0 {
                    "(no holder)".to_string()
                } else {
                    format!("{:#x}", h.holder)
                },
                h.open.len(),
                list(&devices),
                h.recent_claims,
                h.last_claim
                    .as_ref()
                    .map(|a| format!(", last by {a} at {}", origin.at(a.ts_ns)))
                    .unwrap_or_default(),
            );
        }
    }
    if !s.open_waits.is_empty() {
        out.push_str("\nwaiting at the end of the trace\n");
        for w in &s.open_waits {
            match &w.at_attach {
                None => {
                    let _ = writeln!(
                        out,
                        "  {} on inode {} of {} for {} (since {}){}",
                        w.begin,
                        w.ino,
                        w.dev,
                        duration(w.waited_ns),
                        origin.at(w.begin.ts_ns),
                        if w.api.uninterruptible() {
                            ", uninterruptible (eviction)"
                        } else {
                            ""
                        }
                    );
                }
                Some(a) => {
                    let _ = writeln!(
                        out,
                        "  {} on pfn {:#x} of inode {} of {} for at least {} (in progress at attach)",
                        w.begin,
                        a.pfn,
                        w.ino,
                        w.dev,
                        duration(w.waited_ns),
                    );
                }
            }
        }
    }
    stuck::stuck_text(&mut out, s, &r.table, origin);
    orphans::orphans_text(&mut out, s, &r.table, origin);
    pins::pins_text(&mut out, &s.pins, &r.table, origin, t.last_ts_ns);
    out.push_str("\nfindings\n");
    let _ = writeln!(
        out,
        "  unmatched releases {}, double claims {}, stuck waits {}, orphaned pages {}, blocked waits {}",
        s.unmatched_releases, s.double_claims, s.stuck_waits, s.orphaned_pages, s.blocked_waits
    );
    if s.pins.refused_total > 0 {
        let _ = writeln!(
            out,
            "  refused long-term pins {} (FS-DAX memory cannot be pinned long term)",
            s.pins.refused_total
        );
    }
    if !s.held_since_start.is_empty() {
        let _ = writeln!(
            out,
            "  claims held since before the trace and still held {} (pre-existing, not leaks)",
            s.held_since_start.len()
        );
    }
    let drops: Vec<String> = s
        .drops
        .lost_at()
        .map(|(_, name, n)| format!("{n} at {name}"))
        .collect();
    let _ = writeln!(
        out,
        "  dropped events {}{}",
        s.drops.total(),
        if drops.is_empty() {
            String::new()
        } else {
            format!(" ({})", drops.join(", "))
        }
    );
    let losses: Vec<String> = s
        .drops
        .other_losses()
        .map(|(reason, _, name, n)| format!("{n} {reason} at {name}"))
        .collect();
    if !losses.is_empty() {
        let _ = writeln!(out, "  kernel losses {}", losses.join(", "));
    }
    out
}

#[cfg(test)]
mod tests;
