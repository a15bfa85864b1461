//! The result of `daxtrace check`: one status per assertion and an overall
//! outcome that maps to the process exit code.
use serde::{Deserialize, Serialize};

/// Overall result. Exit codes are documented in docs/check.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    /// Nothing failed, but the evidence is incomplete (dropped events, the
    /// filtered device never seen, a damaged trace).
    Inconclusive,
    Fail,
}

impl Outcome {
    /// 0 pass, 1 fail, 2 inconclusive (3, usage or input error, is the binary's).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Pass => 0,
            Outcome::Fail => 1,
            Outcome::Inconclusive => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Inconclusive => "INCONCLUSIVE",
            Outcome::Fail => "FAIL",
        }
    }
}

/// Status of one assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    Inconclusive,
    /// Not requested (e.g. `--max-wait` not given).
    Skipped,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Inconclusive => "INCONCLUSIVE",
            Status::Skipped => "SKIP",
        }
    }
}

/// One assertion and what violated it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assertion {
    /// Stable identifier (`claims-released`, ...).
    pub id: String,
    /// What is asserted, in words.
    pub title: String,
    pub status: Status,
    /// One line per violation (or the reason for inconclusive / skipped).
    pub details: Vec<String>,
}

/// What was judged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// The trace file, or `live`.
    pub source: String,
    pub events: u64,
    pub span_ns: u64,
    pub devices: usize,
    pub pagemaps: usize,
    /// `--dev` filters, as given.
    pub filters: Vec<String>,
}

/// The whole verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub outcome: Outcome,
    pub scope: Scope,
    pub assertions: Vec<Assertion>,
    /// Remarks that apply to the whole run (a truncated trace, say).
    pub notes: Vec<String>,
    /// State found at attach, named as such and not judged: claims held
    /// since before the trace, waits in progress at attach (only with a
    /// state at start).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_existing: Vec<String>,
    /// Worth knowing, never a failure: long-term pins (RDMA registration,
    /// io_uring fixed buffers, vfio) the kernel refused on FS-DAX memory, as
    /// it must; the application asking for them will not work on DAX.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

/// Assertions whose inconclusive status says the trace stops before what it
/// watched did (a file cut short, a capture stopped by a signal, a
/// flight-recorder window): what happened after that point is unknown.
const CUT_BY: [&str; 3] = ["trace-complete", "capture-complete", super::session::WINDOW];

/// The assertion a release after the cut would have satisfied.
const RELEASED: &str = "claims-released";

/// What a window's missing beginning may explain too: the claim of a
/// release, the release between two claims.
const BEFORE_THE_WINDOW: [&str; 2] = ["no-release-without-claim", "no-double-claim"];

impl Verdict {
    /// Recomputes `outcome` from the assertions: any failure fails; otherwise
    /// any inconclusive assertion makes the whole inconclusive.
    fn settle(&mut self) {
        self.outcome = self
            .assertions
            .iter()
            .map(|a| match a.status {
                Status::Fail => Outcome::Fail,
                Status::Inconclusive => Outcome::Inconclusive,
                Status::Pass | Status::Skipped => Outcome::Pass,
            })
            .max()
            .unwrap_or(Outcome::Pass);
    }

    /// Adds an assertion made outside [`super::judge`] (e.g. whether the
    /// trace file was complete) and settles the outcome again. One saying
    /// the trace was cut makes the claims still open at the cut
    /// inconclusive: their releases may lie after it.
    pub fn push(&mut self, assertion: Assertion) {
        if assertion.status == Status::Inconclusive && CUT_BY.contains(&assertion.id.as_str()) {
            self.open_at_cut(&assertion);
        }
        self.assertions.push(assertion);
        self.settle();
    }

    fn open_at_cut(&mut self, cut: &Assertion) {
        let why = cut.details.join("; ");
        let window = cut.id == super::session::WINDOW;
        for a in &mut self.assertions {
            if window && a.status == Status::Fail && BEFORE_THE_WINDOW.contains(&a.id.as_str()) {
                a.status = Status::Inconclusive;
                a.details.push(format!(
                    "what explains them may lie before the window ({why})"
                ));
            }
            if a.id == RELEASED && a.status == Status::Fail {
                a.status = Status::Inconclusive;
                a.details.push(format!(
                    "the claims above were open where the trace was cut ({why}): their releases may lie after it"
                ));
            }
        }
    }
}
