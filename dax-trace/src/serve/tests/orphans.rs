//! The orphaned-page and blocked-wait families: counted per device, and the
//! busy gauge falls back when the orphaned page goes idle.
use super::*;
use crate::testkit::fixture::{DAX0, PGMAP0, PMEM0, Script};

fn line<'a>(metrics: &'a str, prefix: &str) -> Option<&'a str> {
    metrics.lines().find(|l| l.starts_with(prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphaned_pages_and_blocked_waits_are_counted_per_device() {
    let r = start(HttpLimits::default());
    let mut s = Script::default();
    s.claim(DAX0, 0xffff_8880_0b00_0000, PMEM0, "pmem0")
        .pagemap(PGMAP0, 0x240000, 0x280000)
        .by(160, "rm")
        .orphaned(PGMAP0, 0x240030, PMEM0, 14)
        .by(170, "umount")
        .wait_begin(PMEM0, 15)
        .blocked(PGMAP0, 0x240040, PMEM0, 15, 170);
    let orphaned_ns = s.events[2].ts_ns;
    let first = s.build();
    r.events.send(first.clone()).await.expect("sends");
    wait_for_events(&r.shared, first.len() as u64).await;
    let text = get(r.addr, "/metrics", None).await;
    let m = body(&text);
    assert_eq!(
        line(m, "daxtrace_orphaned_pages_total{device=\"pmem0\""),
        Some("daxtrace_orphaned_pages_total{device=\"pmem0\"} 1"),
        "{m}"
    );
    assert_eq!(
        line(m, "daxtrace_orphaned_pages_busy{device=\"pmem0\""),
        Some("daxtrace_orphaned_pages_busy{device=\"pmem0\"} 1")
    );
    assert_eq!(
        line(m, "daxtrace_blocked_waits_total{device=\"pmem0\""),
        Some("daxtrace_blocked_waits_total{device=\"pmem0\"} 1")
    );

    let mut later = Script {
        ts_ns: s.ts_ns + 1_000_000_000,
        ..Script::default()
    };
    later.orphan_idle(0x240030, PMEM0, 14, orphaned_ns);
    r.events.send(later.build()).await.expect("sends");
    wait_for_events(&r.shared, first.len() as u64 + 1).await;
    let text = get(r.addr, "/metrics", None).await;
    assert_eq!(
        line(body(&text), "daxtrace_orphaned_pages_busy{device=\"pmem0\""),
        Some("daxtrace_orphaned_pages_busy{device=\"pmem0\"} 0"),
        "{text}"
    );
}
