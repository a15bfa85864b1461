//! `daxtrace check --format prometheus`: a verdict as metrics for
//! node_exporter's textfile collector, and the atomic write such a file
//! needs (node_exporter may read the directory at any moment, so the file is
//! written beside its final name and renamed over it).
use std::io::Write as _;
use std::path::Path;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{Assertion, Outcome, Status, Verdict};

/// A verdict and when it was made, as a prometheus-client collector.
#[derive(Debug)]
struct VerdictFamilies {
    verdict: Verdict,
    unix_seconds: f64,
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Inconclusive => "inconclusive",
        Status::Skipped => "skipped",
    }
}

/// Every status an assertion can have, each a series of its own.
const STATUSES: [Status; 4] = [
    Status::Pass,
    Status::Fail,
    Status::Inconclusive,
    Status::Skipped,
];

/// The violations an assertion found: its details only when it failed
/// (otherwise they say why it was skipped or inconclusive).
fn violations(a: &Assertion) -> u64 {
    if a.status == Status::Fail {
        a.details.len() as u64
    } else {
        0
    }
}

impl Collector for VerdictFamilies {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let v = &self.verdict;
        let mut m = enc.encode_descriptor(
            "daxtrace_check_outcome",
            "Outcome of the last daxtrace check: 1 for the outcome it had, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for (name, o) in [
            ("pass", Outcome::Pass),
            ("fail", Outcome::Fail),
            ("inconclusive", Outcome::Inconclusive),
        ] {
            let labels = [("outcome", name)];
            m.encode_family(&labels)?
                .encode_gauge(&u64::from(v.outcome == o))?;
        }
        let mut m = enc.encode_descriptor(
            "daxtrace_check_assertion",
            "Status of each assertion of the last check: 1 for the status it had, 0 for the others.",
            None,
            MetricType::Gauge,
        )?;
        for a in &v.assertions {
            for s in STATUSES {
                let labels = [("assertion", a.id.as_str()), ("status", status_name(s))];
                m.encode_family(&labels)?
                    .encode_gauge(&u64::from(a.status == s))?;
            }
        }
        let mut m = enc.encode_descriptor(
            "daxtrace_check_violations",
            "Violations found per assertion of the last check (0 unless it failed: \
             a skipped or inconclusive assertion's details are reasons, not violations).",
            None,
            MetricType::Gauge,
        )?;
        for a in &v.assertions {
            let labels = [("assertion", a.id.as_str())];
            m.encode_family(&labels)?.encode_gauge(&violations(a))?;
        }
        let mut m = enc.encode_descriptor(
            "daxtrace_check_events",
            "Events the last check judged.",
            None,
            MetricType::Gauge,
        )?;
        m.encode_gauge(&v.scope.events)?;
        let mut m = enc.encode_descriptor(
            "daxtrace_check_last_run_timestamp",
            "When the last check ran, since the Unix epoch.",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        m.encode_gauge(&self.unix_seconds)?;
        Ok(())
    }
}

/// The verdict in Prometheus text format 0.0.4 (what the textfile collector reads).
pub fn render(verdict: &Verdict, unix_seconds: f64) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(VerdictFamilies {
        verdict: verdict.clone(),
        unix_seconds,
    }));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_text::encode(&mut out, &registry);
    out
}

/// Seconds since the Unix epoch, now.
pub fn now_unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over `path`. Readers see the
/// old file or the new one, never a part. The file is created 0644 (the
/// textfile collector often runs as another user).
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the output path names no file",
        )
    })?;
    // node_exporter only reads *.prom, so a `.name.tmp` is never picked up.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Scope;

    fn verdict() -> Verdict {
        Verdict {
            outcome: Outcome::Fail,
            scope: Scope {
                source: "t.dxt".into(),
                events: 42,
                span_ns: 1,
                devices: 1,
                pagemaps: 1,
                filters: vec![],
            },
            assertions: vec![Assertion {
                id: "no-stuck-waits".into(),
                title: "t".into(),
                status: Status::Fail,
                details: vec!["a".into(), "b".into()],
            }],
            notes: vec![],
            pre_existing: vec![],
            notices: vec![],
        }
    }

    #[test]
    fn the_verdict_renders_as_gauges() {
        let text = render(&verdict(), 1_700_000_000.0);
        assert!(
            text.contains("daxtrace_check_outcome{outcome=\"fail\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("daxtrace_check_outcome{outcome=\"pass\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "daxtrace_check_assertion{assertion=\"no-stuck-waits\",status=\"fail\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("daxtrace_check_violations{assertion=\"no-stuck-waits\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("daxtrace_check_events 42\n"), "{text}");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn a_skipped_or_inconclusive_assertion_counts_no_violation() {
        let mut v = verdict();
        v.assertions = vec![
            Assertion {
                id: "max-wait".into(),
                title: "t".into(),
                status: Status::Skipped,
                details: vec!["no --max-wait given".into()],
            },
            Assertion {
                id: "claims-released".into(),
                title: "t".into(),
                status: Status::Inconclusive,
                details: vec!["the trace was cut".into()],
            },
        ];
        let text = render(&v, 1_700_000_000.0);
        for id in ["max-wait", "claims-released"] {
            assert!(
                text.contains(&format!(
                    "daxtrace_check_violations{{assertion=\"{id}\"}} 0\n"
                )),
                "{text}"
            );
        }
        for (id, status, value) in [
            ("max-wait", "skipped", 1),
            ("max-wait", "fail", 0),
            ("claims-released", "inconclusive", 1),
            ("claims-released", "pass", 0),
        ] {
            let series = format!(
                "daxtrace_check_assertion{{assertion=\"{id}\",status=\"{status}\"}} {value}\n"
            );
            assert!(text.contains(&series), "{series} in {text}");
        }
    }

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("daxtrace.prom");
        write_atomically(&path, "old\n").expect("writes");
        write_atomically(&path, "new\n").expect("replaces");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "new\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("daxtrace.prom")]);
        let missing = dir.path().join("no/such/dir/x.prom");
        assert!(write_atomically(&missing, "x").is_err());
    }
}
