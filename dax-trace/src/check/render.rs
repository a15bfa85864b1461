//! Renderers of a [`Verdict`]: human text, JSON, and JUnit XML for CI.
use super::verdict::{Status, Verdict};
use crate::human::{duration, plural};
use std::fmt::Write as _;

/// Output format of `daxtrace check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Junit,
    /// Prometheus text for node_exporter's textfile collector.
    Prometheus,
}

/// Renders `verdict` in `format` (ends with a newline).
pub fn render(verdict: &Verdict, format: Format) -> String {
    match format {
        Format::Text => text(verdict),
        Format::Json => json(verdict),
        Format::Junit => junit(verdict),
        Format::Prometheus => super::textfile::render(verdict, super::textfile::now_unix_seconds()),
    }
}

/// The human report: the outcome, then one line per assertion with its
/// violations indented below.
pub fn text(v: &Verdict) -> String {
    let mut out = String::new();
    let s = &v.scope;
    let _ = write!(
        out,
        "daxtrace check: {} ({}: {} over {}, {}, {}",
        v.outcome.label(),
        s.source,
        plural(s.events, "event"),
        duration(s.span_ns),
        plural(s.devices as u64, "device"),
        plural(s.pagemaps as u64, "pagemap"),
    );
    if !s.filters.is_empty() {
        let _ = write!(out, "; only {}", s.filters.join(", "));
    }
    out.push_str(")\n");
    let width = v.assertions.iter().map(|a| a.id.len()).max().unwrap_or(0);
    for a in &v.assertions {
        let _ = writeln!(
            out,
            "  {:<12} {:<width$}  {}",
            a.status.label(),
            a.id,
            a.title
        );
        if a.status != Status::Pass {
            for d in &a.details {
                let _ = writeln!(out, "      - {d}");
            }
        }
    }
    if !v.pre_existing.is_empty() {
        out.push_str("  pre-existing state (found at attach, not judged)\n");
        for p in &v.pre_existing {
            let _ = writeln!(out, "      - {p}");
        }
    }
    if !v.notices.is_empty() {
        out.push_str("  notices (not failures)\n");
        for n in &v.notices {
            let _ = writeln!(out, "      - {n}");
        }
    }
    for n in &v.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out
}

/// The verdict as pretty JSON, led by its schema version (addresses and
/// devices as strings, see [`crate::json`]).
pub fn json(v: &Verdict) -> String {
    let versioned = crate::json::to_value(v).map(|mut value| {
        if let serde_json::Value::Object(map) = &mut value {
            let mut with = serde_json::Map::new();
            with.insert("schema".into(), crate::json::SCHEMA_VERSION.into());
            with.extend(std::mem::take(map));
            *map = with;
        }
        value
    });
    // Serializing plain data with string keys cannot fail.
    let mut s = versioned
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// Escapes text for XML attributes and content.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {
                let _ = write!(out, "&#x{:x};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per assertion. A failed assertion is a
/// `<failure>`, an inconclusive one an `<error>` (CI must not show it green),
/// a skipped one `<skipped>`. Run-wide notes go to `<system-out>`.
pub fn junit(v: &Verdict) -> String {
    let count = |st: Status| v.assertions.iter().filter(|a| a.status == st).count();
    let (tests, failures, errors, skipped) = (
        v.assertions.len(),
        count(Status::Fail),
        count(Status::Inconclusive),
        count(Status::Skipped),
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"daxtrace check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        xml(&v.scope.source)
    );
    if !v.pre_existing.is_empty() {
        out.push_str("    <properties>\n");
        for p in &v.pre_existing {
            let _ = writeln!(
                out,
                "      <property name=\"pre-existing\" value=\"{}\"/>",
                xml(p)
            );
        }
        out.push_str("    </properties>\n");
    }
    for a in &v.assertions {
        let _ = write!(
            out,
            "    <testcase classname=\"daxtrace.check\" name=\"{}\"",
            xml(&a.id)
        );
        let body = a.details.join("\n");
        match a.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Fail | Status::Inconclusive | Status::Skipped => {
                let tag = match a.status {
                    Status::Fail => "failure",
                    Status::Inconclusive => "error",
                    _ => "skipped",
                };
                let message = match a.status {
                    Status::Skipped => a.details.first().cloned().unwrap_or_default(),
                    _ => format!("{}: {} violation(s)", a.title, a.details.len()),
                };
                let _ = writeln!(out, ">");
                if a.status == Status::Skipped {
                    let _ = writeln!(out, "      <skipped message=\"{}\"/>", xml(&message));
                } else {
                    let _ = writeln!(
                        out,
                        "      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>",
                        xml(&message),
                        xml(&a.id),
                        xml(&body)
                    );
                }
                out.push_str("    </testcase>\n");
            }
        }
    }
    let system_out: Vec<String> = v
        .pre_existing
        .iter()
        .map(|p| format!("pre-existing (not judged): {p}"))
        .chain(v.notices.iter().map(|n| format!("notice: {n}")))
        .chain(v.notes.iter().cloned())
        .collect();
    if !system_out.is_empty() {
        let _ = writeln!(
            out,
            "    <system-out>{}</system-out>",
            xml(&system_out.join("\n"))
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
