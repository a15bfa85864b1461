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

/// `serve --program-stats` turned the kernel's run-time statistics on: the
/// scrape after the DMA-vs-truncate run shows it, and the programs that
/// must have run (the claim at mount, the busy page the truncate met) with
/// runs and run time.
fn program_costs(dir: &Path) -> Result<String, String> {
    program_costs_in(&read(dir, "serve.metrics")?)
}

fn program_costs_in(metrics: &str) -> Result<String, String> {
    if sum(metrics, "daxtrace_program_stats_enabled", &[]) != 1.0 {
        return Err("daxtrace_program_stats_enabled is not 1".into());
    }
    let runs = sum(metrics, "daxtrace_program_runs_total", &[]);
    let seconds = sum(metrics, "daxtrace_program_run_time_seconds_total", &[]);
    let programs = metrics
        .lines()
        .filter(|l| l.starts_with("daxtrace_program_runs_total{"))
        .count();
    let ran = metrics
        .lines()
        .filter(|l| l.starts_with("daxtrace_program_runs_total{"))
        .filter(|l| l.rsplit(' ').next().is_some_and(|v| v != "0"))
        .count();
    let busy = sum(metrics, "daxtrace_program_runs_total", &["busy"]);
    if runs == 0.0 || seconds <= 0.0 || busy == 0.0 {
        return Err(format!(
            "{programs} programs, {runs} runs, {seconds} s, busy-page programs {busy} runs"
        ));
    }
    Ok(format!(
        "{ran} of {programs} programs ran: {runs} runs, {seconds:.6} s in all"
    ))
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
            "serve: its programs' runs and run time (--program-stats)",
            program_costs(dir),
        ),
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
    fn program_costs_need_stats_on_and_a_busy_page_program_that_ran() {
        let on = "daxtrace_program_stats_enabled 1\n\
            daxtrace_program_runs_total{program=\"layout_busy_fexit\"} 8\n\
            daxtrace_program_runs_total{program=\"claim_fentry\"} 0\n\
            daxtrace_program_run_time_seconds_total{program=\"layout_busy_fexit\"} 0.00002\n";
        let ok = program_costs_in(on).expect("counted");
        assert!(ok.starts_with("1 of 2 programs ran: 8 runs"), "{ok}");
        let off = on.replace("stats_enabled 1", "stats_enabled 0");
        assert!(program_costs_in(&off).is_err());
        let idle = on.replace("} 8", "} 0");
        assert!(program_costs_in(&idle).is_err());
    }

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
