//! Where a stream of events comes from, for headers and trace files.
pub mod probe_report;

use probe_report::ProbeReport;
use serde::{Deserialize, Serialize};

/// The source of an event stream: live capture or a trace file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Live,
    Replay { path: String },
}

/// What front ends know about the stream they display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub source: SourceKind,
    pub kernel_release: String,
    pub probes: ProbeReport,
    /// Add to an event's `ts_ns` (CLOCK_MONOTONIC) to get Unix-epoch nanoseconds.
    pub monotonic_to_realtime_ns: i128,
}
