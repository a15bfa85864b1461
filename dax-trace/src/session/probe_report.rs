//! What was attached on this kernel, and why not where nothing was: the table
//! `daxtrace probes` prints and every trace file records in its header.
use serde::{Deserialize, Serialize};

/// How a point is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachKind {
    Fentry,
    Kprobe,
    Tracepoint,
    PerfEvent,
}

/// The outcome for one attach point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum PointStatus {
    /// Attached as planned (`kind`), or by a fallback when `fallback_from` says
    /// which preferred kind failed and why.
    Attached {
        kind: AttachKind,
        fallback_from: Option<String>,
    },
    /// Dry plan (`daxtrace probes --plan-only`, or before attaching): the
    /// kinds that will be tried in order, and notes on the kinds left out.
    Planned {
        kinds: Vec<AttachKind>,
        notes: Vec<String>,
    },
    /// An alternative of the same group was attached instead.
    Skipped { reason: String },
    /// Not attached: the symbol is absent, or every kind failed.
    Missing { reason: String },
}

/// One attach point on this kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointReport {
    /// Index in `dax_trace_common::probe::POINTS`.
    pub point: u16,
    pub target: String,
    /// In which module the symbol lives (`None`: vmlinux or not found).
    pub module: Option<String>,
    pub status: PointStatus,
}

/// One logical probe (a family of points).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyReport {
    pub family: String,
    pub points: Vec<PointReport>,
}

impl FamilyReport {
    /// True when at least one point of the family is attached.
    pub fn attached(&self) -> bool {
        self.points
            .iter()
            .any(|p| matches!(p.status, PointStatus::Attached { .. }))
    }
}

/// The whole probe table for one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub kernel_release: String,
    /// Facilities missing on this machine (no BTF, no kprobes, no tracefs,
    /// no CAP_BPF...), each a sentence a user can act on.
    pub problems: Vec<String>,
    pub families: Vec<FamilyReport>,
    /// The BTF-derived offsets handed to the programs, by name.
    pub offsets: Vec<(String, u64)>,
    /// The sources of the state at start and whether this kernel has them.
    #[serde(default)]
    pub state: Vec<StateSourceReport>,
    /// The bounded tables as loaded: what each holds and how many entries
    /// (the owner table's pinned pages, sized by `--max-pinned-pages`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<(String, u64)>,
}

/// One source of the state at start (`state_bits` names).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSourceReport {
    pub source: String,
    /// `None` when it can be read here, else why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// The families without which no claim or release is seen: a capture
/// missing one of them is degraded (serve's `/healthz`, `probes`' exit status).
pub const CORE_FAMILIES: [&str; 2] = ["claim", "release"];

impl ProbeReport {
    /// (attached, total) logical probes, for headers like "probes 9/11".
    pub fn attached_count(&self) -> (usize, usize) {
        let attached = self.families.iter().filter(|f| f.attached()).count();
        let needed = self
            .families
            .iter()
            .filter(|f| self.not_needed(f).is_none())
            .count();
        (attached, needed.max(attached))
    }

    /// Why a family with nothing attached is not needed on this machine,
    /// if it is not. Such a family is neither missing nor counted.
    /// - orphaned-page: from 6.15 eviction and unmount wait for busy pages
    ///   (`dax_break_layout_final`) instead of dropping them, so there is no
    ///   orphaned page to see;
    /// - pmem-flush: no virtio-pmem driver is loaded (its flush function is
    ///   not in kallsyms), so no flush goes to a host.
    pub fn not_needed(&self, family: &FamilyReport) -> Option<&'static str> {
        if family.attached() {
            return None;
        }
        let absent = |p: &PointReport| matches!(&p.status, PointStatus::Missing { reason } if reason.contains("not in /proc/kallsyms"));
        if family.family == dax_trace_common::probe::Family::Flush.name() {
            return family.points.iter().all(absent).then_some(
                "not needed here: no virtio-pmem driver (nd_virtio) is loaded; \
                 other pmem flushes without asking a host",
            );
        }
        if family.family != dax_trace_common::probe::Family::Orphan.name() {
            return None;
        }
        let kernel_waits = self.families.iter().flat_map(|f| &f.points).any(|p| {
            p.target == "dax_break_layout_final"
                && !matches!(&p.status, PointStatus::Missing { reason } if reason.contains("not in /proc/kallsyms"))
        });
        kernel_waits.then_some(
            "not needed here: this kernel waits for busy pages before it drops them, \
             see dax_break_layout_final under layout-wait",
        )
    }

    /// Whether `family` has a point attached, or planned in a dry plan.
    pub fn family_present(&self, family: &str) -> bool {
        self.families.iter().any(|f| {
            f.family == family
                && f.points.iter().any(|p| {
                    matches!(
                        p.status,
                        PointStatus::Attached { .. } | PointStatus::Planned { .. }
                    )
                })
        })
    }

    /// The names of `wanted` that are not present, in the order given.
    pub fn missing_of<'a, S: AsRef<str>>(&self, wanted: &'a [S]) -> Vec<&'a str> {
        wanted
            .iter()
            .map(AsRef::as_ref)
            .filter(|name| !self.family_present(name))
            .collect()
    }
}

/// One line per point that is not attached, with its reason: for errors
/// when nothing at all could be attached.
pub fn render_reasons(report: &ProbeReport) -> String {
    let mut out = String::new();
    for problem in &report.problems {
        out.push_str(&format!("  - {problem}\n"));
    }
    for family in &report.families {
        for point in &family.points {
            if let PointStatus::Missing { reason } | PointStatus::Skipped { reason } = &point.status
            {
                out.push_str(&format!(
                    "  {}: {}: {}\n",
                    family.family, point.target, reason
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(name: &str, status: PointStatus) -> FamilyReport {
        FamilyReport {
            family: name.into(),
            points: vec![PointReport {
                point: 0,
                target: "t".into(),
                module: None,
                status,
            }],
        }
    }

    #[test]
    fn missing_families_are_those_with_nothing_attached_or_planned() {
        let report = ProbeReport {
            families: vec![
                family(
                    "claim",
                    PointStatus::Missing {
                        reason: "EPERM".into(),
                    },
                ),
                family(
                    "release",
                    PointStatus::Skipped {
                        reason: "alternative".into(),
                    },
                ),
                family(
                    "fault",
                    PointStatus::Attached {
                        kind: AttachKind::Tracepoint,
                        fallback_from: None,
                    },
                ),
                family(
                    "pin-owner",
                    PointStatus::Planned {
                        kinds: vec![AttachKind::Fentry],
                        notes: Vec::new(),
                    },
                ),
            ],
            ..ProbeReport::default()
        };
        assert_eq!(
            report.missing_of(&["fault", "claim", "pin-owner", "release", "layout-wait"]),
            ["claim", "release", "layout-wait"]
        );
        assert_eq!(report.missing_of(&CORE_FAMILIES), ["claim", "release"]);
    }

    #[test]
    fn the_orphan_family_is_not_needed_where_the_kernel_waits_at_eviction() {
        let orphan = || {
            let mut f = family(
                "orphaned-page",
                PointStatus::Missing {
                    reason: "dax_disassociate_entry is not in /proc/kallsyms (absent or inlined)"
                        .into(),
                },
            );
            f.points[0].target = "dax_disassociate_entry".into();
            f
        };
        let final_wait = |status: PointStatus| {
            let mut f = family("layout-wait", status);
            f.points[0].target = "dax_break_layout_final".into();
            f
        };
        let attached = PointStatus::Attached {
            kind: AttachKind::Fentry,
            fallback_from: None,
        };
        // 6.15+: the final wait exists, the orphan family is not needed.
        let new = ProbeReport {
            families: vec![final_wait(attached.clone()), orphan()],
            ..ProbeReport::default()
        };
        assert!(new.not_needed(&new.families[1]).is_some());
        assert_eq!(new.attached_count(), (1, 1));
        // Before 6.15: no final wait; a missing orphan family is missing.
        let old = ProbeReport {
            families: vec![
                final_wait(PointStatus::Missing {
                    reason: "dax_break_layout_final is not in /proc/kallsyms (absent or inlined)"
                        .into(),
                }),
                orphan(),
            ],
            ..ProbeReport::default()
        };
        assert!(old.not_needed(&old.families[1]).is_none());
        assert_eq!(old.attached_count(), (0, 2));
    }

    #[test]
    fn the_flush_family_is_not_needed_without_a_virtio_pmem_driver() {
        let flush = |status: PointStatus| {
            let mut f = family("pmem-flush", status);
            f.points[0].target = "async_pmem_flush".into();
            f
        };
        let absent = ProbeReport {
            families: vec![flush(PointStatus::Missing {
                reason: "async_pmem_flush is not in /proc/kallsyms (absent or inlined)".into(),
            })],
            ..ProbeReport::default()
        };
        let why = absent.not_needed(&absent.families[0]).expect("not needed");
        assert!(why.contains("nd_virtio"), "{why}");
        assert_eq!(absent.attached_count(), (0, 0));
        // Present but refused: missing, and counted.
        let refused = ProbeReport {
            families: vec![flush(PointStatus::Missing {
                reason: "fentry and kprobe both refused".into(),
            })],
            ..ProbeReport::default()
        };
        assert!(refused.not_needed(&refused.families[0]).is_none());
        assert_eq!(refused.attached_count(), (0, 1));
    }
}
