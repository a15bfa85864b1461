//! Judging the VM's `serve` step (vm-test.sh, `DAXTRACE_VMTEST_SERVE=1`, on
//! 6.1 and 7): `daxtrace serve` ran live while dma-truncate ran, beside
//! `daxtrace record` of the same run. Asserted here: the scrape answered;
//! the exporter's counters (claims, releases, waits, stuck waits) equal
//! what `report --json` of the recording says; the OpenMetrics answer ends
//! in `# EOF`; every thread of the exporter holds CAP_BPF alone
//! (CapEff 0000008000000000) with no_new_privs set; and every reading of
//! kallsyms, those after the capability drop included, showed addresses
//! (a re-read that saw none used to empty the symbol table and re-read it
//! back to back).
use serde_json::Value;
use std::path::Path;

/// CapEff of a thread holding CAP_BPF (bit 39) and nothing else.
const CAP_BPF_ONLY: &str = "0000008000000000";

/// Sum of every sample of `family` whose labels contain all of `having`.
fn sum(metrics: &str, family: &str, having: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name_labels, value) = l.rsplit_once(' ')?;
            let name = name_labels.split('{').next()?;
            (name == family && having.iter().all(|h| name_labels.contains(h)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

fn read(dir: &Path, name: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))
}

fn report_sum(report: &Value, field: &str) -> f64 {
    report["summary"]["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            field
                .split('.')
                .try_fold(d, |v, k| v.get(k))
                .and_then(Value::as_u64)
        })
        .sum::<u64>() as f64
}

fn counters(dir: &Path) -> Result<String, String> {
    let rc = read(dir, "serve.scrape.rc")?;
    if rc.trim() != "0" {
        return Err(format!(
            "wget of /metrics exit {}; serve.err: {}",
            rc.trim(),
            read(dir, "serve.err").unwrap_or_default()
        ));
    }
    let metrics = read(dir, "serve.metrics")?;
    let report: Value = serde_json::from_str(&read(dir, "serve.report.json")?)
        .map_err(|e| format!("serve.report.json: {e}"))?;
    let pairs = [
        (
            "claims granted",
            sum(&metrics, "daxtrace_claims_total", &["outcome=\"granted\""]),
            report_sum(&report, "balance.claims"),
        ),
        (
            "releases matched",
            sum(
                &metrics,
                "daxtrace_releases_total",
                &["outcome=\"matched\""],
            ),
            report_sum(&report, "balance.releases"),
        ),
        (
            "waits",
            sum(
                &metrics,
                "daxtrace_break_layout_wait_duration_seconds_count",
                &[],
            ),
            report_sum(&report, "waits"),
        ),
        (
            "stuck waits",
            sum(&metrics, "daxtrace_stuck_waits_total", &[]),
            report["summary"]["stuck_waits"].as_u64().unwrap_or(0) as f64,
        ),
        (
            "claims open",
            sum(&metrics, "daxtrace_claims_open", &[]),
            report_sum(&report, "outstanding"),
        ),
    ];
    let mut seen = Vec::new();
    for (what, exporter, recording) in pairs {
        if exporter != recording {
            return Err(format!(
                "{what}: exporter {exporter}, recording {recording}"
            ));
        }
        seen.push(format!("{what} {exporter}"));
    }
    if pairs[2].1 < 1.0 {
        return Err("no wait seen: the workload did not run under the exporter".into());
    }
    Ok(seen.join(", "))
}

fn openmetrics(dir: &Path) -> Result<String, String> {
    let text = read(dir, "serve.openmetrics")?;
    if !text.ends_with("# EOF\n") {
        return Err(format!("no # EOF at the end ({} bytes)", text.len()));
    }
    Ok(format!("{} bytes ending in # EOF", text.len()))
}

fn capabilities(dir: &Path) -> Result<String, String> {
    let per_task = read(dir, "serve.capeff")?;
    let status = read(dir, "serve.status")?;
    let tasks: Vec<&str> = per_task.lines().filter(|l| l.contains("CapEff")).collect();
    if tasks.is_empty() {
        return Err(format!("no thread's CapEff read: {per_task}"));
    }
    if let Some(bad) = tasks.iter().find(|l| !l.trim_end().ends_with(CAP_BPF_ONLY)) {
        return Err(format!("a thread kept more than CAP_BPF: {bad}"));
    }
    if !status
        .lines()
        .any(|l| l.starts_with("NoNewPrivs:") && l.trim_end().ends_with('1'))
    {
        return Err(format!("no_new_privs not set: {status}"));
    }
    let logged = read(dir, "serve.err")?;
    if !logged.contains("capabilities now [CAP_BPF]") {
        return Err(format!("the drop was not logged: {logged}"));
    }
    Ok(format!(
        "{} threads at CapEff {CAP_BPF_ONLY}, no_new_privs",
        tasks.len()
    ))
}

fn stopped(dir: &Path) -> Result<String, String> {
    let rc = read(dir, "serve.rc")?;
    match rc.trim() {
        "0" => Ok("exit 0 on SIGTERM".into()),
        other => Err(format!(
            "exit {other}; serve.err: {}",
            read(dir, "serve.err").unwrap_or_default()
        )),
    }
}

/// What the symbolizer logs per reading of kallsyms (`symbolize.rs`, debug).
const KALLSYMS_READ: &str = "text symbols from /proc/kallsyms";
/// What it logs when a reading shows no address.
const KALLSYMS_HIDDEN: &str = "shows every address as 0";

/// Every reading of kallsyms in the exporter's log found symbols.
fn kallsyms_readings(log: &str) -> Result<String, String> {
    if let Some(hidden) = log.lines().find(|l| l.contains(KALLSYMS_HIDDEN)) {
        return Err(hidden.to_string());
    }
    let counts: Vec<u64> = log
        .lines()
        .filter(|l| l.contains(KALLSYMS_READ))
        .filter_map(|l| {
            let (_, after) = l.split_once("read ")?;
            after.split_whitespace().next()?.parse().ok()
        })
        .collect();
    if counts.is_empty() {
        return Err(
            "no reading of /proc/kallsyms logged (RUST_LOG lacks dax_trace::symbolize=debug?)"
                .into(),
        );
    }
    if let Some(empty) = log
        .lines()
        .find(|l| l.contains(KALLSYMS_READ) && l.contains("read 0 "))
    {
        return Err(format!("a reading found no symbol: {empty}"));
    }
    Ok(format!(
        "{} reading(s), {} symbols at least",
        counts.len(),
        counts.iter().min().copied().unwrap_or(0)
    ))
}

fn kallsyms(dir: &Path) -> Result<String, String> {
    kallsyms_readings(&read(dir, "serve.err")?)
}

/// (name, outcome) of each assertion on the serve step's files in `dir`.
pub fn judge(dir: &Path) -> Vec<(&'static str, Result<String, String>)> {
    vec![
        ("serve: counters match the recording", counters(dir)),
        ("serve: OpenMetrics ends in # EOF", openmetrics(dir)),
        (
            "serve: CapEff CAP_BPF only on every thread",
            capabilities(dir),
        ),
        ("serve: stops cleanly on SIGTERM", stopped(dir)),
        (
            "serve: kallsyms shows addresses after the drop",
            kallsyms(dir),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_pick_the_family_and_labels_asked_for() {
        let text = "# HELP x\nd_total{device=\"a\",outcome=\"granted\"} 2\nd_total{device=\"b\",outcome=\"granted\"} 3\nd_total{device=\"b\",outcome=\"refused\"} 7\nd_totalx 100\n";
        assert_eq!(sum(text, "d_total", &["outcome=\"granted\""]), 5.0);
        assert_eq!(sum(text, "d_total", &[]), 12.0);
    }

    #[test]
    fn a_kallsyms_reading_without_symbols_fails_the_step() {
        let first = "daxtrace: debug dax_trace::symbolize: read 126020 text symbols from /proc/kallsyms in 1.72s\n";
        let ok = kallsyms_readings(&format!("{first}{first}")).expect("both found symbols");
        assert!(ok.starts_with("2 reading(s)"), "{ok}");
        // What a re-read after the capability drop logged before the
        // symbolizer kept its first handle.
        let emptied = format!(
            "{first}daxtrace: debug dax_trace::symbolize: read 0 text symbols from /proc/kallsyms in 710ms\n"
        );
        assert!(kallsyms_readings(&emptied).is_err());
        let hidden = format!(
            "{first}daxtrace: warning: /proc/kallsyms shows every address as 0 to this process\n"
        );
        assert!(kallsyms_readings(&hidden).is_err());
        assert!(kallsyms_readings("daxtrace serve: capabilities now [CAP_BPF]\n").is_err());
    }
}
