//! The human-readable probe table of `daxtrace probes`.
use std::fmt::Write as _;

use super::attach::kind_name;
use crate::session::probe_report::{
    AttachKind, FamilyReport, PointReport, PointStatus, ProbeReport,
};

fn kinds_text(kinds: &[AttachKind]) -> String {
    kinds
        .iter()
        .map(|k| kind_name(*k))
        .collect::<Vec<_>>()
        .join(" then ")
}

/// One word for a family: what is attached, or that nothing is.
fn family_summary(family: &FamilyReport) -> String {
    let attached: Vec<String> = family
        .points
        .iter()
        .filter_map(|p| match &p.status {
            PointStatus::Attached { kind, .. } => {
                Some(format!("{} ({})", p.target, kind_name(*kind)))
            }
            _ => None,
        })
        .collect();
    if !attached.is_empty() {
        return format!("attached: {}", attached.join(", "));
    }
    let planned: Vec<String> = family
        .points
        .iter()
        .filter_map(|p| match &p.status {
            PointStatus::Planned { kinds, .. } => {
                Some(format!("{} ({})", p.target, kinds_text(kinds)))
            }
            _ => None,
        })
        .collect();
    if !planned.is_empty() {
        return format!("planned: {}", planned.join(", "));
    }
    "MISSING: no attach point on this kernel".to_string()
}

fn point_line(p: &PointReport) -> String {
    let place = match &p.module {
        Some(m) => format!(" [{m}]"),
        None => String::new(),
    };
    let status = match &p.status {
        PointStatus::Attached {
            kind,
            fallback_from: None,
        } => format!("attached ({})", kind_name(*kind)),
        PointStatus::Attached {
            kind,
            fallback_from: Some(why),
        } => format!("attached ({}) after: {why}", kind_name(*kind)),
        PointStatus::Planned { kinds, notes } if notes.is_empty() => {
            format!("planned: {}", kinds_text(kinds))
        }
        PointStatus::Planned { kinds, notes } => {
            format!("planned: {} ({})", kinds_text(kinds), notes.join("; "))
        }
        PointStatus::Skipped { reason } => format!("skipped: {reason}"),
        PointStatus::Missing { reason } => format!("missing: {reason}"),
    };
    format!("    {}{place}: {status}", p.target)
}

/// The table: header, problems, then each family with its points.
pub fn render_text(report: &ProbeReport, mode: &str) -> String {
    let mut out = String::new();
    let (attached, total) = report.attached_count();
    let _ = writeln!(out, "kernel {} ({mode})", report.kernel_release);
    if mode == "attached" {
        let _ = writeln!(out, "logical probes attached: {attached}/{total}");
    }
    if !report.problems.is_empty() {
        let _ = writeln!(out, "problems:");
        for p in &report.problems {
            let _ = writeln!(out, "  - {p}");
        }
    }
    for family in &report.families {
        let summary = match report.not_needed(family) {
            Some(why) => why.to_string(),
            None => family_summary(family),
        };
        let _ = writeln!(out, "{}: {summary}", family.family);
        for p in &family.points {
            let _ = writeln!(out, "{}", point_line(p));
        }
    }
    if !report.state.is_empty() {
        let _ = writeln!(out, "state at start:");
        for s in &report.state {
            match &s.unavailable {
                None => {
                    let _ = writeln!(out, "    {}: read at attach", s.source);
                }
                Some(why) => {
                    let _ = writeln!(out, "    {}: not available here: {why}", s.source);
                }
            }
        }
    }
    if !report.limits.is_empty() {
        let _ = writeln!(out, "limits:");
        for (what, n) in &report.limits {
            let _ = writeln!(out, "    {what}: {n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::probe_report::StateSourceReport;

    fn report() -> ProbeReport {
        ProbeReport {
            kernel_release: "6.18.0".into(),
            problems: vec!["no kprobe support".into()],
            state: vec![
                StateSourceReport {
                    source: "waits".into(),
                    unavailable: Some("missing kernel variable bit_wait_table".into()),
                },
                StateSourceReport {
                    source: "mounts".into(),
                    unavailable: None,
                },
            ],
            families: vec![
                FamilyReport {
                    family: "claim".into(),
                    points: vec![PointReport {
                        point: 3,
                        target: "fs_dax_get_by_bdev".into(),
                        module: None,
                        status: PointStatus::Missing {
                            reason: "fentry failed: load: EPERM".into(),
                        },
                    }],
                },
                FamilyReport {
                    family: "fault".into(),
                    points: vec![PointReport {
                        point: 33,
                        target: "fs_dax/dax_pte_fault_done".into(),
                        module: None,
                        status: PointStatus::Attached {
                            kind: AttachKind::Tracepoint,
                            fallback_from: None,
                        },
                    }],
                },
            ],
            offsets: Vec::new(),
            limits: vec![("pinned pages with owners kept".into(), 131_072)],
        }
    }

    #[test]
    fn the_table_says_what_attached_and_why_not() {
        let text = render_text(&report(), "attached");
        assert!(text.contains("logical probes attached: 1/2"), "{text}");
        assert!(text.contains("claim: MISSING"), "{text}");
        assert!(text.contains("fs_dax_get_by_bdev: missing: fentry failed: load: EPERM"));
        assert!(text.contains("fault: attached: fs_dax/dax_pte_fault_done (tracepoint)"));
        assert!(text.contains("  - no kprobe support"));
        assert!(text.contains("state at start:"), "{text}");
        assert!(
            text.contains("    waits: not available here: missing kernel variable bit_wait_table"),
            "{text}"
        );
        assert!(text.contains("    mounts: read at attach"), "{text}");
        assert!(
            text.contains("limits:\n    pinned pages with owners kept: 131072"),
            "{text}"
        );
    }
}
