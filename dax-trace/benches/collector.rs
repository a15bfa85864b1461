//! Collector throughput: events folded per second and peak memory, over a
//! synthetic page storm (busy pages, idles, faults, put stats) plus mount
//! cycles. Not a test: prints results and writes them to
//! `$CARGO_TARGET_DIR/collector-bench.txt` (or the path in
//! `DAXTRACE_BENCH_OUT`). `cargo bench -p dax-trace --bench collector [-- N]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use dax_trace::event::{Claim, Release};
use std::time::Instant;

use dax_trace::collector::Collector;
use dax_trace::event::{ClaimApi, Event, EventBody};
use dax_trace::testkit::synthetic;

/// Peak resident set size of this process, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mount_cycle(ts_ns: u64) -> [Event; 2] {
    let ev = |ts_ns, body| Event {
        ts_ns,
        cpu: 0,
        pid: 1,
        tid: 1,
        comm: "mount".into(),
        point: 3,
        body,
    };
    [
        ev(
            ts_ns,
            EventBody::Claim(Claim {
                dax_dev: synthetic::DAX_DEV,
                holder: synthetic::XFS_MP,
                holder_ops: 0,
                bdev: synthetic::PMEM0,
                disk: "pmem0".into(),
                granted: true.into(),
                api: ClaimApi::FsDaxGetByBdev.into(),
                start_off: 0,
                ..Default::default()
            }),
        ),
        ev(
            ts_ns + 1,
            EventBody::Release(Release {
                dax_dev: synthetic::DAX_DEV,
                holder: synthetic::XFS_MP,
                api: ClaimApi::FsPutDax.into(),
                holder_before: synthetic::XFS_MP,
                ..Default::default()
            }),
        ),
    ]
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let mut events: Vec<Event> = Vec::with_capacity(n as usize + 2 * (n / 1000) as usize);
    for (i, e) in synthetic::page_storm(n).enumerate() {
        if i % 1000 == 0 {
            events.extend(mount_cycle(e.ts_ns));
        }
        events.push(e);
    }
    let rss_before = peak_rss_kib();

    let mut collector = Collector::default();
    let start = Instant::now();
    for e in &events {
        collector.ingest(e);
    }
    let elapsed = start.elapsed();
    let rate = events.len() as f64 / elapsed.as_secs_f64();
    let d = collector
        .device_by_dax(synthetic::DAX_DEV)
        .map(|d| d.balance.clone())
        .unwrap_or_default();
    let report = format!(
        "collector ingest: {} events in {:.3} s = {:.2} M events/s\n\
         claims {} releases {} (balanced: {})\n\
         peak RSS before folding {} KiB, after {} KiB (the event vector dominates; \
         collector state is bounded)\n",
        events.len(),
        elapsed.as_secs_f64(),
        rate / 1e6,
        d.claims,
        d.releases,
        d.claims == d.releases,
        rss_before.map_or("?".to_string(), |v| v.to_string()),
        peak_rss_kib().map_or("?".to_string(), |v| v.to_string()),
    );
    print!("{report}");
    let out = std::env::var("DAXTRACE_BENCH_OUT").unwrap_or_else(|_| {
        let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_string());
        format!("{dir}/collector-bench.txt")
    });
    match std::fs::write(&out, &report) {
        Ok(()) => println!("written to {out}"),
        Err(e) => eprintln!("cannot write {out}: {e}"),
    }
}
