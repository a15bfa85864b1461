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
        (attached, self.families.len())
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
}
