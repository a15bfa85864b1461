//! Trace throughput benchmark (not a test): writes a large synthetic trace,
//! then reads it back with the [`Reader`] and replays it through the
//! [`EventStream`] channel, printing events/s and peak memory (VmHWM).
//!
//! `cargo bench -p dax-trace --bench replay` (10 M events; set
//! `DAXTRACE_BENCH_EVENTS` for another size). Results are also written to
//! `<target dir>/bench/replay.txt`. The trace file (about 1.4 GiB for 10 M
//! events) is deleted afterwards.
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::trace::{CreateOptions, End, Header, Reader, Record, Writer, create, synthetic};

fn main() -> anyhow::Result<()> {
    let n: u64 = match std::env::var("DAXTRACE_BENCH_EVENTS") {
        Ok(v) => v.parse().context("DAXTRACE_BENCH_EVENTS")?,
        Err(_) => 10_000_000,
    };
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("replay-bench.dxt");
    let mut report = String::new();
    writeln!(
        report,
        "daxtrace trace benchmark: {n} synthetic page events"
    )?;
    writeln!(
        report,
        "cpus: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )?;

    // Write.
    let started = Instant::now();
    let cpu = cpu_secs();
    let file = create(&path, CreateOptions { force: true })?;
    let mut w = Writer::to_file(file, &Header::new(synthetic::session(), Vec::new()))?;
    for e in synthetic::page_storm(n) {
        w.write_event(&e)?;
    }
    w.finish_file("duration")?;
    let secs = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&path)?.len();
    line(&mut report, "write", n, secs, cpu_secs() - cpu)?;
    writeln!(
        report,
        "file size: {:.1} MiB ({:.1} bytes/event)",
        size as f64 / 1048576.0,
        size as f64 / n as f64
    )?;
    writeln!(report, "peak memory after write: {}", vm_hwm())?;

    // Read with the Reader (what report, check and export use).
    let started = Instant::now();
    let cpu = cpu_secs();
    let mut reader = Reader::open(&path)?;
    let mut events = 0u64;
    let mut checksum = 0u64;
    for record in reader.by_ref() {
        if let Record::Event(e) = record? {
            events += 1;
            checksum = checksum.wrapping_add(e.ts_ns);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        events == n && reader.end() == Some(&End::Complete),
        "read {events} of {n}"
    );
    line(
        &mut report,
        "read (Reader iterator)",
        n,
        secs,
        cpu_secs() - cpu,
    )?;
    writeln!(report, "peak memory after read: {}", vm_hwm())?;

    // Replay through the EventStream channel (what top --replay uses), the
    // consumer being a task of the same multi-threaded runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cpu = cpu_secs();
    let secs = runtime.block_on(async {
        let started = Instant::now();
        let mut stream = replay::start(&path, ReplayOptions::default())?;
        let consumer = tokio::spawn(async move {
            let mut got = 0u64;
            let mut batch = Vec::with_capacity(4096);
            while stream.events.recv_many(&mut batch, 4096).await > 0 {
                got += batch.len() as u64;
                batch.clear();
            }
            got
        });
        let got = consumer.await?;
        anyhow::ensure!(got == n, "replayed {got} of {n}");
        Ok::<_, anyhow::Error>(started.elapsed().as_secs_f64())
    })?;
    line(
        &mut report,
        "replay (EventStream channel)",
        n,
        secs,
        cpu_secs() - cpu,
    )?;
    writeln!(report, "peak memory after replay: {}", vm_hwm())?;
    std::hint::black_box(checksum);

    std::fs::remove_file(&path)?;
    print!("{report}");
    let out = dir.join("replay.txt");
    std::fs::write(&out, &report)?;
    println!("written to {}", out.display());
    Ok(())
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

/// Wall-clock rate, and the rate per CPU-second (what one idle core would
/// do: the machine may be shared).
fn line(report: &mut String, what: &str, n: u64, secs: f64, cpu: f64) -> std::fmt::Result {
    writeln!(
        report,
        "{what:<30} {secs:>8.3} s wall {:>7.2} M events/s | {cpu:>8.3} s CPU {:>7.2} M events/CPU-s",
        n as f64 / secs / 1e6,
        n as f64 / cpu / 1e6
    )
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
