//! The flush histogram: one series per device that flushed, none for the
//! others; the failed ones counted.
use super::*;
use crate::event::Dev;
use crate::testkit::fixture::{DAX0, PMEM0, Script};

const PMEM1: Dev = Dev::new(259, 1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushes_are_a_histogram_of_the_devices_that_flushed() {
    let r = start(HttpLimits::default());
    let mut s = Script::default();
    s.claim(DAX0, 0xffff_8880_0b00_0000, PMEM0, "pmem0")
        .claim(0xffff_8880_0c00_0000, 0xffff_8880_0d00_0000, PMEM1, "pmem1")
        .by(77, "kworker/0:2");
    for latency in [800_000, 1_500_000, 40_000_000] {
        s.flush(PMEM0, latency, 0);
    }
    s.flush(PMEM0, 300_000, -5);
    let events = s.build();
    r.events.send(events.clone()).await.expect("sends");
    wait_for_events(&r.shared, events.len() as u64).await;
    let text = get(r.addr, "/metrics", None).await;
    let m = body(&text);
    let count = m
        .lines()
        .find(|l| l.starts_with("daxtrace_pmem_flush_duration_seconds_count{device=\"pmem0\""))
        .expect(m);
    assert!(count.ends_with(" 4"), "{count}");
    // 40 ms lands above the 2^25 ns (33.6 ms) bound, the others below it.
    let le = |bound: &str| {
        m.lines()
            .find(|l| {
                l.starts_with("daxtrace_pmem_flush_duration_seconds_bucket{")
                    && l.contains("device=\"pmem0\"")
                    && l.contains(&format!("le=\"{bound}\""))
            })
            .unwrap_or_else(|| panic!("no le={bound} bucket:\n{m}"))
            .rsplit(' ')
            .next()
            .map(str::to_string)
    };
    assert_eq!(le("0.033554432").as_deref(), Some("3"));
    assert_eq!(le("+Inf").as_deref(), Some("4"));
    assert!(
        m.contains("daxtrace_pmem_flush_errors_total{device=\"pmem0\"} 1"),
        "{m}"
    );
    assert!(
        !m.contains("daxtrace_pmem_flush_duration_seconds_count{device=\"pmem1\""),
        "a device that never flushed has no histogram:\n{m}"
    );
}
