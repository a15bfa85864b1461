//! `daxtrace report FILE [--json]`: the per-pagemap and per-device summary of
//! a trace file, folded by the collector.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod pins;
mod records;
mod state;

use anyhow::Context as _;
use dax_trace::collector::human::{duration, offset as at};
use dax_trace::collector::{CollectorConfig, Summary};
use dax_trace::source::replay::{self, Folded};
use dax_trace::stacks::{StackRecord, StackTable};
use records::{device_text, pagemap_text};
use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file (from `daxtrace record`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let folded = fold_trace(&args.file, CollectorConfig::default())?;
    let report = Report::new(&args.file, &folded, &folded.stacks);
    let out = if args.json {
        let mut s = serde_json::to_string_pretty(&report).context("encoding the report")?;
        s.push('\n');
        s
    } else {
        render_text(&report)
    };
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Reads every intact record of `path` into a collector (see [`replay::fold`]).
pub fn fold_trace(path: &Path, config: CollectorConfig) -> anyhow::Result<Folded> {
    replay::fold(path, config).with_context(|| format!("reading {}", path.display()))
}

/// What `report` prints, text or JSON.
#[derive(Debug, Serialize)]
pub struct Report {
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
    /// For the text form only: every stack of the trace.
    #[serde(skip)]
    table: StackTable,
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
            file: path.display().to_string(),
            kernel_release: folded.header.session.kernel_release.clone(),
            tool_version: folded.header.tool_version.clone(),
            end: folded.end.to_string(),
            summary,
            stacks: named,
            table: stacks.clone(),
        }
    }
}

pub(crate) fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_string()
    } else {
        items.join(", ")
    }
}

/// The human report.
pub fn render_text(r: &Report) -> String {
    let s = &r.summary;
    let t = &s.totals;
    let origin = t.first_ts_ns.unwrap_or(0);
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
        pagemap_text(&mut out, p);
    }
    if s.devices.is_empty() {
        out.push_str("\nno device seen\n");
    }
    for d in &s.devices {
        device_text(&mut out, d, origin);
    }
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
                    .map(|a| format!(", last by {a} at {}", at(origin, a.ts_ns)))
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
                        "  {} on inode {} of {} for {} (since {})",
                        w.begin,
                        w.ino,
                        w.dev,
                        duration(w.waited_ns),
                        at(origin, w.begin.ts_ns)
                    );
                }
                Some(a) => {
                    let _ = writeln!(
                        out,
                        "  {} tid {} on pfn {:#x} of inode {} of {} for at least {} (in progress at attach)",
                        w.begin,
                        w.begin.tid,
                        a.pfn,
                        w.ino,
                        w.dev,
                        duration(w.waited_ns),
                    );
                }
            }
        }
    }
    pins::pins_text(&mut out, &s.pins, &r.table, origin, t.last_ts_ns);
    out.push_str("\nfindings\n");
    let _ = writeln!(
        out,
        "  unmatched releases {}, double claims {}, stuck waits {}",
        s.unmatched_releases, s.double_claims, s.stuck_waits
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
mod tests {
    use super::*;

    const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/synthetic-6.1.dxt");

    fn sample_report() -> Report {
        let path = Path::new(SAMPLE);
        let folded = fold_trace(path, CollectorConfig::default()).expect("sample reads");
        Report::new(
            Path::new("samples/synthetic-6.1.dxt"),
            &folded,
            &folded.stacks,
        )
    }

    #[test]
    fn sample_report_text() {
        insta::assert_snapshot!(render_text(&sample_report()));
    }

    #[test]
    fn sample_report_json() {
        let json = serde_json::to_string_pretty(&sample_report()).expect("encodes");
        insta::assert_snapshot!(json);
    }

    #[test]
    fn sample_report_names_the_state_at_start() {
        let text = render_text(&sample_report());
        for line in [
            "State at start (read by +0.003s, in 3.154 ms)",
            "pagemap 0xffff888004200000: fs-dax, pfn 0x40000-0x60000 (131072 pages, 512 MiB), existed before the trace",
            "  backed by     pmem0 on namespace0.0",
            "device pmem0 (259:0), dax_dev 0xffff888004310000\n  size          512 MiB",
            "before the trace: held by xfs on /mnt/xfs (holder 0xffff88800b200000) -> released +0.013s by pid 300 (umount)",
            "  mounted       ext4 on /mnt/ext4 (since before the trace)",
            "  dm table      daxlin 0+1048576 linear -> pmem1 at sector 0 (since before the trace)",
            "  busy at start 3 pages\n    pfn 0x60200 inode 77 index 0 refcount 3 on 253:0",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
        assert!(!text.contains("no pagemap seen"), "{text}");
        let json = serde_json::to_value(sample_report()).expect("encodes");
        let state = &json["summary"]["state_at_start"];
        assert_eq!(state["dax_devices"], 3);
        assert_eq!(state["unavailable_sources"], serde_json::json!([]));
        assert_eq!(
            json["summary"]["held_since_start"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        assert!(fold_trace(Path::new("/nonexistent.dxt"), CollectorConfig::default()).is_err());
    }
}
