//! Benchmark (not a test) of `daxtrace serve` under scrape load: 50
//! concurrent scrapers for 30 s against `serve --replay` of a synthetic
//! trace paced at 20 000 events/s. Reports failed scrapes, scrape latency
//! p50/p99, the exporter's RSS over time, and whether event intake kept up
//! (events folded vs events due, events lost at the end). Prints a table
//! and writes JSON.
//!
//! ```sh
//! cargo build --release -p dax-trace
//! cargo run --release -p dax-trace --example serve_bench [-- OUT_JSON]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dax_trace::testkit::synthetic;
use dax_trace::trace::{self, Header, Writer};

const SCRAPERS: usize = 50;
const SECONDS: u64 = 30;
const EVENTS_PER_SECOND: u64 = 20_000;

fn daxtrace_binary() -> anyhow::Result<PathBuf> {
    // target/release/examples/serve_bench -> target/release/daxtrace
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("daxtrace"))
        .context("locating target/release")?;
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release -p dax-trace first",
            bin.display()
        );
    }
    Ok(bin)
}

/// A trace of the synthetic scenario followed by a page storm, spread so
/// that it replays at EVENTS_PER_SECOND over SECONDS (plus 2 s of slack).
fn write_trace(path: &Path) -> anyhow::Result<u64> {
    let file = trace::create(path, trace::CreateOptions { force: true })?;
    let mut w = Writer::to_file(file, &Header::new(synthetic::session(), Vec::new()))?;
    let mut n = 0u64;
    let scenario = synthetic::scenario();
    let start = scenario.first().map_or(0, |e| e.ts_ns);
    for e in &scenario {
        w.write_event(e)?;
        n += 1;
    }
    let storm = EVENTS_PER_SECOND * (SECONDS - 2);
    let gap_ns = 1_000_000_000 / EVENTS_PER_SECOND;
    for (i, mut e) in synthetic::page_storm(storm).enumerate() {
        e.ts_ns = start + 1_000_000_000 + i as u64 * gap_ns;
        w.write_event(&e)?;
        n += 1;
    }
    w.finish_file("serve bench")?;
    Ok(n)
}

fn scrape(addr: SocketAddr) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nAccept: application/openmetrics-text;version=1.0.0\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    if !out.starts_with("HTTP/1.1 200") || !out.ends_with("# EOF\n") {
        return Err(format!("bad answer: {}", out.lines().next().unwrap_or("")));
    }
    Ok(out)
}

fn events_folded(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("daxtrace_events_total{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/bench/serve.json".to_string());
    let dir = tempfile::tempdir()?;
    let trace_path = dir.path().join("bench.dxt");
    let total = write_trace(&trace_path)?;
    let mut child = Command::new(daxtrace_binary()?)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--speed",
            "1",
            "--replay",
        ])
        .arg(&trace_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting daxtrace serve")?;
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let addr: SocketAddr = loop {
        let line = lines.next().context("serve exited before listening")??;
        if let Some(rest) = line.split("serving http://").nth(1) {
            break rest.trim_end_matches("/metrics").parse()?;
        }
    };
    std::thread::spawn(move || for _ in lines {});

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let scrapers: Vec<_> = (0..SCRAPERS)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let (mut ok, mut failed) = (Vec::new(), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match scrape(addr) {
                        Ok(_) => ok.push(t.elapsed().as_secs_f64() * 1e3),
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut rss = Vec::new();
    let mut due_vs_folded = Vec::new();
    for second in 1..=SECONDS {
        let tick = started + Duration::from_secs(second);
        std::thread::sleep(tick.saturating_duration_since(Instant::now()));
        rss.push(rss_kib(pid));
        if let Ok(m) = scrape(addr) {
            // The storm starts 1 s into the trace.
            let due = ((started.elapsed().as_secs_f64() - 1.0).max(0.0) * EVENTS_PER_SECOND as f64)
                as u64;
            due_vs_folded.push((second, due.min(total), events_folded(&m)));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    let mut failed = 0;
    for s in scrapers {
        let (ok, f) = s
            .join()
            .map_err(|_| anyhow::anyhow!("a scraper panicked"))?;
        latencies.extend(ok);
        failed += f;
    }
    // The replay ends about 1 s after the bench: wait for the final state.
    let mut final_folded = 0;
    let waited = Instant::now();
    while waited.elapsed() < Duration::from_secs(20) {
        final_folded = scrape(addr).map(|m| events_folded(&m)).unwrap_or(0);
        if final_folded >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = child.kill();
    let _ = child.wait();

    latencies.sort_by(f64::total_cmp);
    let max_lag = due_vs_folded
        .iter()
        .map(|(_, due, folded)| due.saturating_sub(*folded))
        .max()
        .unwrap_or(0);
    let (rss_min, rss_max) = (
        rss.iter().copied().min().unwrap_or(0),
        rss.iter().copied().max().unwrap_or(0),
    );
    let result = serde_json::json!({
        "scrapers": SCRAPERS,
        "seconds": SECONDS,
        "events_per_second": EVENTS_PER_SECOND,
        "scrapes_ok": latencies.len(),
        "scrapes_failed": failed,
        "latency_ms_p50": percentile(&latencies, 0.5),
        "latency_ms_p99": percentile(&latencies, 0.99),
        "latency_ms_max": latencies.last().copied().unwrap_or(0.0),
        "rss_kib_per_second": rss,
        "rss_kib_min": rss_min,
        "rss_kib_max": rss_max,
        "events_in_trace": total,
        "events_folded_at_end": final_folded,
        "events_lost": total.saturating_sub(final_folded),
        "max_intake_lag_events": max_lag,
    });
    println!(
        "daxtrace serve: {SCRAPERS} scrapers x {SECONDS} s, replay paced at {EVENTS_PER_SECOND} events/s"
    );
    let ok_failed = format!("{} / {failed}", latencies.len());
    println!("  {:<28} {ok_failed}", "scrapes ok / failed");
    println!(
        "  {:<28} {:.2} / {:.2} / {:.2} ms",
        "latency p50 / p99 / max",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    println!(
        "  {:<28} {rss_min} .. {rss_max} KiB",
        "exporter RSS over the run"
    );
    println!(
        "  {:<28} {final_folded} of {total} ({} lost)",
        "events folded at the end",
        total.saturating_sub(final_folded)
    );
    println!(
        "  {:<28} {max_lag} events",
        "largest intake lag (1 s ticks)"
    );
    if let Some(parent) = Path::new(&out).parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&result)? + "\n")?;
    println!("written to {out}");
    Ok(())
}
