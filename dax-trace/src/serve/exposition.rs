//! Content negotiation and rendering of `/metrics`: OpenMetrics 1.0 (ending
//! in `# EOF`) when the scraper's `Accept` prefers it, Prometheus text 0.0.4
//! otherwise. Both encodings come from prometheus-client.
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

use super::families::Families;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    PrometheusText,
}

impl Format {
    /// The Content-Type header value of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::PrometheusText => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// One `Accept` entry: media type, its `version` parameter and its quality.
struct Offer<'a> {
    media: String,
    version: Option<&'a str>,
    q: f64,
}

fn offers(accept: &str) -> impl Iterator<Item = Offer<'_>> {
    accept.split(',').filter_map(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next()?.to_ascii_lowercase();
        if media.is_empty() {
            return None;
        }
        let mut offer = Offer {
            media,
            version: None,
            q: 1.0,
        };
        for param in parts {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            match k.trim().to_ascii_lowercase().as_str() {
                "q" => offer.q = v.trim().parse().unwrap_or(0.0),
                "version" => offer.version = Some(v.trim().trim_matches('"')),
                _ => {}
            }
        }
        Some(offer)
    })
}

/// The format for a request's `Accept` header (absent: Prometheus text).
/// OpenMetrics is chosen when it is offered (version 1.0.0 or unversioned)
/// with a quality at least that of plain text.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::PrometheusText;
    };
    let mut openmetrics = 0.0f64;
    let mut plain = 0.0f64;
    for o in offers(accept) {
        match o.media.as_str() {
            "application/openmetrics-text" if o.version.is_none_or(|v| v == "1.0.0") => {
                openmetrics = openmetrics.max(o.q);
            }
            "text/plain" | "text/*" | "*/*" => plain = plain.max(o.q),
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics >= plain {
        Format::OpenMetrics
    } else {
        Format::PrometheusText
    }
}

/// Renders `families` in `format`.
pub fn render(families: Families, format: Format) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(families));
    let mut out = String::with_capacity(16 * 1024);
    match format {
        Format::OpenMetrics => text::encode(&mut out, &registry)?,
        Format::PrometheusText => prometheus_text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::process::ProcessFigures;
    use crate::serve::program_families::ProgramFigures;
    use crate::serve::scrape::Scrape;

    /// What Prometheus 2.x sends when scraping.
    const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn prometheus_gets_openmetrics_and_everyone_else_text() {
        assert_eq!(negotiate(Some(PROMETHEUS_ACCEPT)), Format::OpenMetrics);
        assert_eq!(
            negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(negotiate(None), Format::PrometheusText);
        assert_eq!(negotiate(Some("*/*")), Format::PrometheusText);
        assert_eq!(
            negotiate(Some("text/plain;version=0.0.4")),
            Format::PrometheusText
        );
        assert_eq!(negotiate(Some("")), Format::PrometheusText);
        assert_eq!(negotiate(Some(";;,,;q=")), Format::PrometheusText);
    }

    #[test]
    fn quality_and_version_decide_between_offers() {
        let text_first = "text/plain;q=1, application/openmetrics-text;q=0.5";
        assert_eq!(negotiate(Some(text_first)), Format::PrometheusText);
        let refused = "application/openmetrics-text;q=0, text/plain;q=0.1";
        assert_eq!(negotiate(Some(refused)), Format::PrometheusText);
        let old_draft_only = "application/openmetrics-text; version=0.0.1";
        assert_eq!(negotiate(Some(old_draft_only)), Format::PrometheusText);
        let quoted = "Application/OpenMetrics-Text; Version=\"1.0.0\"; q=0.9, */*;q=0.1";
        assert_eq!(negotiate(Some(quoted)), Format::OpenMetrics);
    }

    fn families() -> Families {
        Families {
            scrape: Scrape {
                version: "1.2.3".into(),
                kernel_release: "6.1.0-test".into(),
                source: "replay".into(),
                ..Scrape::default()
            },
            process: ProcessFigures::default(),
            programs: ProgramFigures::default(),
        }
    }

    #[test]
    fn program_costs_are_counters_per_program_and_seconds() {
        use crate::source::program_costs::ProgramCost;
        let mut f = families();
        f.programs = ProgramFigures {
            stats_enabled: Some(true),
            costs: vec![ProgramCost {
                program: "get_dev_pagemap_fentry".into(),
                runs: 1200,
                run_time_ns: 2_500_000_000,
            }],
        };
        let text = render(f, Format::PrometheusText).expect("renders");
        for series in [
            "daxtrace_program_stats_enabled 1",
            "daxtrace_program_runs_total{program=\"get_dev_pagemap_fentry\"} 1200",
            "# TYPE daxtrace_program_run_time_seconds_total counter",
            "daxtrace_program_run_time_seconds_total{program=\"get_dev_pagemap_fentry\"} 2.5",
        ] {
            assert!(text.contains(series), "no {series} in\n{text}");
        }
        let unknown = render(families(), Format::PrometheusText).expect("renders");
        assert!(
            !unknown.contains("daxtrace_program_stats_enabled"),
            "no series when the kernel cannot say: {unknown}"
        );
    }

    #[test]
    fn openmetrics_ends_in_eof_and_text_does_not() {
        let om = render(families(), Format::OpenMetrics).expect("renders");
        assert!(om.ends_with("# EOF\n"), "{om}");
        assert!(
            om.contains("daxtrace_build_info{version=\"1.2.3\"} 1"),
            "{om}"
        );
        let text = render(families(), Format::PrometheusText).expect("renders");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE daxtrace_longterm_pins_refused_total counter"),
            "{text}"
        );
        assert!(
            text.contains("daxtrace_longterm_pins_refused_total 0"),
            "{text}"
        );
    }
}
