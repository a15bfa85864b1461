//! Trace throughput benchmark (not a test): writes a large synthetic trace,
//! then reads it back the ways the front ends do, printing events/s and peak
//! memory (VmHWM):
//!
//! - `read`: the [`Reader`] alone (decoding, CRC checks);
//! - `read + fold`: the Reader folding into a [`Collector`] on one thread;
//! - `report/check`: [`replay::fold`], what `daxtrace report FILE` and
//!   `daxtrace check FILE` do: reading on one thread, folding on another;
//! - `replay`: the [`EventStream`] from a one-worker runtime to a consumer
//!   thread that only counts;
//! - `top --replay`: the same stream folded into a Collector on the consumer
//!   thread, as `daxtrace top --replay` does.
//!
//! Each reading stage runs `DAXTRACE_BENCH_RUNS` times (3 by default); the
//! median and the best run are printed, with the CPU time, because this
//! machine may be shared. `cargo bench -p dax-trace --bench replay`
//! (10 M events; set `DAXTRACE_BENCH_EVENTS` for another size). Results are
//! also written to `<target dir>/bench/replay.txt`. The trace file (about
//! 1.4 GiB for 10 M events) is deleted afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use dax_trace::collector::{Collector, CollectorConfig};
use dax_trace::source::EventStream;
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::testkit::synthetic;
use dax_trace::trace::{CreateOptions, End, Header, Reader, Record, Writer, create};

/// One timed run: wall and CPU seconds.
#[derive(Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
}

fn main() -> anyhow::Result<()> {
    let n: u64 = env_number("DAXTRACE_BENCH_EVENTS", 10_000_000)?;
    let runs = env_number("DAXTRACE_BENCH_RUNS", 3)?.max(1);
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("replay-bench.dxt");
    let mut report = String::new();
    writeln!(
        report,
        "daxtrace trace benchmark: {n} synthetic page events, {runs} runs per reading stage"
    )?;
    writeln!(
        report,
        "cpus: {}, load average before: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    )?;
    writeln!(
        report,
        "{:<16} {:>9} {:>12} {:>9} {:>12} {:>14}",
        "stage", "median s", "median M/s", "best s", "best M/s", "best M/CPU-s"
    )?;

    let write = timed(|| write_trace(&path, n))?;
    let size = std::fs::metadata(&path)?.len();
    line(&mut report, "write", n, &mut [write])?;

    let mut stage = |name: &str, f: &dyn Fn() -> anyhow::Result<u64>| -> anyhow::Result<()> {
        let mut times = Vec::new();
        for _ in 0..runs {
            let mut got = 0;
            times.push(timed(|| {
                got = f()?;
                Ok(())
            })?);
            anyhow::ensure!(got == n, "{name}: {got} of {n} events");
        }
        line(&mut report, name, n, &mut times)?;
        Ok(())
    };
    stage("read", &|| read(&path))?;
    stage("read + fold", &|| read_and_fold(&path))?;
    stage("report/check", &|| fold(&path))?;
    stage("replay", &|| replay_to_thread(&path, |_| {}))?;
    stage("top --replay", &|| {
        let mut collector = Collector::default();
        replay_to_thread(&path, |e| collector.ingest(e))
    })?;
    writeln!(
        report,
        "file size: {:.1} MiB ({:.1} bytes/event)",
        size as f64 / 1048576.0,
        size as f64 / n as f64
    )?;
    writeln!(report, "peak memory (VmHWM): {}", vm_hwm())?;

    std::fs::remove_file(&path)?;
    print!("{report}");
    let out = dir.join("replay.txt");
    std::fs::write(&out, &report)?;
    println!("written to {}", out.display());
    Ok(())
}

fn write_trace(path: &Path, n: u64) -> anyhow::Result<()> {
    let file = create(path, CreateOptions { force: true })?;
    let mut w = Writer::to_file(file, &Header::new(synthetic::session(), Vec::new()))?;
    for e in synthetic::page_storm(n) {
        w.write_event(&e)?;
    }
    w.finish_file("duration")?;
    Ok(())
}

/// Reads every record; returns the events read.
fn read(path: &Path) -> anyhow::Result<u64> {
    let mut reader = Reader::open(path)?;
    let mut events = 0u64;
    let mut checksum = 0u64;
    for record in reader.by_ref() {
        if let Record::Event(e) = record? {
            events += 1;
            checksum = checksum.wrapping_add(e.ts_ns);
        }
    }
    std::hint::black_box(checksum);
    anyhow::ensure!(reader.end() == Some(&End::Complete), "{:?}", reader.end());
    Ok(events)
}

/// Folds the file as `report` and `check` do; returns the events folded.
fn fold(path: &Path) -> anyhow::Result<u64> {
    let folded = replay::fold(path, CollectorConfig::default())?;
    anyhow::ensure!(folded.end == End::Complete, "{}", folded.end);
    Ok(folded.collector.totals().events)
}

/// Reads and folds on one thread; returns the events folded.
fn read_and_fold(path: &Path) -> anyhow::Result<u64> {
    let mut reader = Reader::open(path)?;
    let mut collector = Collector::default();
    for record in reader.by_ref() {
        if let Record::Event(e) = record? {
            collector.ingest(&e);
        }
    }
    Ok(collector.totals().events)
}

/// Replays from a one-worker runtime (as `top` runs its source) to this
/// thread, handing every event to `each`; returns the events received.
fn replay_to_thread(
    path: &Path,
    mut each: impl FnMut(&dax_trace::event::Event),
) -> anyhow::Result<u64> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let EventStream { mut events, .. } = {
        let _entered = runtime.enter();
        replay::start(path, ReplayOptions::default())?
    };
    let mut got = 0u64;
    while let Some(batch) = events.blocking_recv() {
        got += batch.len() as u64;
        batch.iter().for_each(&mut each);
    }
    Ok(got)
}

fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Run> {
    let started = Instant::now();
    let cpu = cpu_secs();
    f()?;
    Ok(Run {
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_secs() - cpu,
    })
}

/// Median and best of `runs`, as rates over `n` events.
fn line(report: &mut String, what: &str, n: u64, runs: &mut [Run]) -> std::fmt::Result {
    runs.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    let median = runs[runs.len() / 2];
    let best = runs[0];
    let rate = |secs: f64| n as f64 / secs / 1e6;
    writeln!(
        report,
        "{what:<16} {:>9.3} {:>12.2} {:>9.3} {:>12.2} {:>14.2}",
        median.wall,
        rate(median.wall),
        best.wall,
        rate(best.wall),
        rate(best.cpu)
    )
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v}")),
        Err(_) => Ok(default),
    }
}

/// CPU time this process has used, in seconds (all threads).
fn cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; clock_gettime only writes it.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return f64::NAN;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Peak resident memory of this process, from /proc/self/status.
fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}
