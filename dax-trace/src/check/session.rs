//! Assertions about how the events were gathered rather than what they
//! say: the trace file is complete, the claim and release probes were
//! attached, the live capture ran its whole window. `daxtrace check` adds
//! them to the verdict of [`judge`](super::judge) when it knows the session.
use dax_trace_common::probe::Family;

use super::{Assertion, Status};
use crate::session::probe_report::ProbeReport;
use crate::trace::{End, Header};

/// A trace cut short may miss releases and waits that ended after the cut.
pub fn trace_complete(end: &End) -> Assertion {
    Assertion {
        id: "trace-complete".to_string(),
        title: "the trace file is complete".to_string(),
        status: if end.is_complete() {
            Status::Pass
        } else {
            Status::Inconclusive
        },
        details: if end.is_complete() {
            Vec::new()
        } else {
            vec![format!("the trace is {end}; events after that are unknown")]
        },
    }
}

/// A flight-recorder dump (`record --ring`) holds the state at start and
/// a window of the last events, not the whole history: what needs the
/// history (claims balanced with their releases) cannot be judged from it.
/// `None` for a whole recording.
pub fn trace_window(header: &Header) -> Option<Assertion> {
    let triggers = header.flight_window()?;
    Some(Assertion {
        id: WINDOW.to_string(),
        title: "the trace holds the whole history".to_string(),
        status: Status::Inconclusive,
        details: vec![format!(
            "a flight-recorder window (dumped on {triggers}): events before its first and after its last are not in the file"
        )],
    })
}

/// The id of [`trace_window`]'s assertion.
pub const WINDOW: &str = "trace-window";

/// Without claim and release probes the balance assertions pass vacuously.
pub fn probes_cover_claims(report: &ProbeReport) -> Assertion {
    let missing: Vec<String> = [Family::Claim.name(), Family::Release.name()]
        .into_iter()
        .filter(|family| {
            !report
                .families
                .iter()
                .any(|f| f.family == *family && f.attached())
        })
        .map(|family| format!("no {family} probe was attached: claims cannot be balanced"))
        .collect();
    Assertion {
        id: "probes-attached".to_string(),
        title: "claim and release probes were attached".to_string(),
        status: if missing.is_empty() {
            Status::Pass
        } else {
            Status::Inconclusive
        },
        details: missing,
    }
}

/// A live `check --duration` that did not run its whole window (a signal
/// stopped it, or its event source failed or ended) judged less than it
/// was asked to; `why` says what cut it short.
pub fn capture_cut_short(why: impl Into<String>) -> Assertion {
    Assertion {
        id: "capture-complete".to_string(),
        title: "the capture ran for the whole --duration".to_string(),
        status: Status::Inconclusive,
        details: vec![why.into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_flight_window_says_it_lacks_history() {
        let mut header = Header::new(
            crate::testkit::synthetic::session(),
            vec!["dev=259:0".into()],
        );
        assert_eq!(trace_window(&header), None);
        header
            .filters
            .push(format!("{}stuck-wait", crate::trace::FLIGHT_WINDOW));
        let a = trace_window(&header).expect("a window");
        assert_eq!(a.status, Status::Inconclusive);
        assert!(a.details[0].contains("dumped on stuck-wait"), "{a:?}");
    }
    use crate::session::probe_report::{AttachKind, FamilyReport, PointReport, PointStatus};

    fn family(name: &str, attached: bool) -> FamilyReport {
        FamilyReport {
            family: name.to_string(),
            points: vec![PointReport {
                point: 0,
                target: "x".to_string(),
                module: None,
                status: if attached {
                    PointStatus::Attached {
                        kind: AttachKind::Fentry,
                        fallback_from: None,
                    }
                } else {
                    PointStatus::Missing {
                        reason: "absent".to_string(),
                    }
                },
            }],
        }
    }

    #[test]
    fn missing_release_probe_is_inconclusive() {
        let mut report = ProbeReport {
            families: vec![family("claim", true), family("release", false)],
            ..ProbeReport::default()
        };
        let a = probes_cover_claims(&report);
        assert_eq!(a.status, Status::Inconclusive);
        assert_eq!(a.details.len(), 1);
        assert!(a.details[0].contains("release"));
        report.families[1] = family("release", true);
        assert_eq!(probes_cover_claims(&report).status, Status::Pass);
    }

    #[test]
    fn truncated_trace_is_inconclusive() {
        let end = End::Truncated {
            offset: 99,
            reason: "cut".to_string(),
        };
        let a = trace_complete(&end);
        assert_eq!(a.status, Status::Inconclusive);
        assert!(a.details[0].contains("byte 99"), "{}", a.details[0]);
        assert_eq!(trace_complete(&End::Complete).status, Status::Pass);
    }
}
