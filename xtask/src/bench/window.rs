//! A workload's share of a tracer session. The guest starts one tracer per
//! round and configuration and runs every workload under it in turn, writing
//! down each workload's CLOCK_MONOTONIC bounds (`TAG.window_begin_ns`,
//! `TAG.window_end_ns`) and the session it ran in (`TAG.session`). The
//! session's trace is exported as JSON lines (`SESSION.jsonl`); this module
//! cuts out of it the events and drops of one window.
use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;

use serde::Deserialize;

/// How late the recorder reports a drop: it sums the kernel's drop counters
/// once per second (`LiveOptions::stats_interval`) and writes a `drops`
/// event only then, so drops of a window show up to this long after it.
pub const DROPS_REPORT_LAG_NS: u64 = 1_000_000_000;

/// What one window of a session saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowStats {
    /// Events in the window, the recorder's own `drops` records not counted.
    pub events: u64,
    /// Events lost in the window, per point.
    pub drops_per_point: BTreeMap<u16, u64>,
    pub stuck_waits: u64,
}

#[derive(Deserialize)]
struct Line {
    ts_ns: u64,
    body: Body,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: String,
    /// `drops` only: the point and its running total.
    point: Option<u16>,
    total: Option<u64>,
}

/// Reads `jsonl` (a `daxtrace export --format jsonl` of a whole session)
/// for the window `[begin_ns, end_ns]`. Drops are running totals per point:
/// a window's are the last total reported by `end_ns` plus the report lag,
/// less the last total reported before `begin_ns`. A line that does not
/// parse is skipped (the export of a trace cut short ends mid-line).
pub fn read_window(jsonl: &Path, begin_ns: u64, end_ns: u64) -> std::io::Result<WindowStats> {
    let file = std::fs::File::open(jsonl)?;
    let mut stats = WindowStats::default();
    let mut before: BTreeMap<u16, u64> = BTreeMap::new();
    let mut by_end: BTreeMap<u16, u64> = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let Ok(line) = serde_json::from_str::<Line>(&line?) else {
            continue;
        };
        let ts = line.ts_ns;
        if line.body.kind == "drops" {
            let (Some(point), Some(total)) = (line.body.point, line.body.total) else {
                continue;
            };
            if ts < begin_ns {
                before.insert(point, total);
            } else if ts <= end_ns.saturating_add(DROPS_REPORT_LAG_NS) {
                by_end.insert(point, total);
            }
            continue;
        }
        if (begin_ns..=end_ns).contains(&ts) {
            stats.events += 1;
            if line.body.kind == "stuck-wait" {
                stats.stuck_waits += 1;
            }
        }
    }
    for (point, total) in by_end {
        let lost = total.saturating_sub(before.get(&point).copied().unwrap_or(0));
        if lost > 0 {
            stats.drops_per_point.insert(point, lost);
        }
    }
    Ok(stats)
}

/// `NAME RUN_CNT RUN_TIME_NS` per program at a window's end, less the same
/// at its beginning (a program not read at the beginning counts from zero).
pub fn bpf_delta(
    begin: &[(String, u64, u64)],
    end: &[(String, u64, u64)],
) -> Vec<(String, u64, u64)> {
    end.iter()
        .map(|(name, cnt, ns)| {
            let (c0, n0) = begin
                .iter()
                .find(|(b, _, _)| b == name)
                .map_or((0, 0), |(_, c, n)| (*c, *n));
            (name.clone(), cnt.saturating_sub(c0), ns.saturating_sub(n0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: u64, body: &str) -> String {
        format!(r#"{{"ts_ns":{ts},"cpu":0,"pid":1,"tid":1,"comm":"x","point":3,"body":{body}}}"#)
    }

    #[test]
    fn a_window_gets_its_own_events_and_the_drops_reported_during_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let text = [
            line(100, r#"{"type":"claim","granted":true}"#),
            line(150, r#"{"type":"drops","point":33,"total":4}"#),
            line(200, r#"{"type":"fault","dev":1}"#),
            line(250, r#"{"type":"stuck-wait","pfn":7}"#),
            // Reported within the lag after the window: this window's.
            line(300 + 500, r#"{"type":"drops","point":33,"total":10}"#),
            line(300 + 600, r#"{"type":"drops","point":2,"total":1}"#),
            line(400, r#"{"type":"fault","dev":1}"#),
            // Far later: the next window's.
            line(
                300 + DROPS_REPORT_LAG_NS + 1,
                r#"{"type":"drops","point":33,"total":50}"#,
            ),
            "{\"ts_ns\":99,\"bo".to_string(),
        ]
        .join("\n");
        std::fs::write(&path, text).unwrap();
        let got = read_window(&path, 200, 300).unwrap();
        assert_eq!(got.events, 2);
        assert_eq!(got.stuck_waits, 1);
        assert_eq!(got.drops_per_point, BTreeMap::from([(2, 1), (33, 6)]));
        let first = read_window(&path, 0, 120).unwrap();
        assert_eq!(first.events, 1);
        assert_eq!(first.drops_per_point, BTreeMap::from([(33, 10), (2, 1)]));
        assert!(read_window(&dir.path().join("none"), 0, 1).is_err());
    }

    #[test]
    fn bpf_run_times_are_the_windows_share() {
        let begin = vec![("a".to_string(), 10, 1000), ("b".to_string(), 5, 50)];
        let end = vec![
            ("a".to_string(), 30, 4000),
            ("b".to_string(), 5, 50),
            ("c".to_string(), 2, 20),
        ];
        assert_eq!(
            bpf_delta(&begin, &end),
            [
                ("a".to_string(), 20, 3000),
                ("b".to_string(), 0, 0),
                ("c".to_string(), 2, 20)
            ]
        );
    }
}
