//! `daxtrace_faults_total` counts a `fault-counts` event as its count of
//! faults: the same series as the same faults sent one record each.
use super::*;
use crate::event::Event;
use crate::testkit::fixture::{DAX0, PMEM0, Script};

/// The `daxtrace_faults_total` lines of pmem0 after serving `events`.
async fn fault_series(events: Vec<Event>) -> Vec<String> {
    let r = start(HttpLimits::default());
    let n = events.len() as u64;
    r.events.send(events).await.expect("sends");
    wait_for_events(&r.shared, n).await;
    let text = get(r.addr, "/metrics", None).await;
    body(&text)
        .lines()
        .filter(|l| l.starts_with("daxtrace_faults_total{") && l.contains("device=\"pmem0\""))
        .map(str::to_string)
        .collect()
}

fn mounted() -> Script {
    let mut s = Script::default();
    s.claim(DAX0, 0xffff_8880_0b00_0000, PMEM0, "pmem0");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counted_faults_make_the_same_series_as_fault_records() {
    let mut records = mounted();
    for _ in 0..5 {
        records.fault(PMEM0, false);
    }
    records.fault(PMEM0, true);
    let mut counted = mounted();
    counted
        .fault_counts(PMEM0, false, 2)
        .fault_counts(PMEM0, true, 1)
        .fault_counts(PMEM0, false, 3);
    let by_records = fault_series(records.build()).await;
    let by_counts = fault_series(counted.build()).await;
    assert_eq!(by_records.len(), 2, "{by_records:?}");
    assert!(
        by_records
            .iter()
            .any(|l| l.contains("size=\"pte\"") && l.ends_with(" 5")),
        "{by_records:?}"
    );
    assert_eq!(by_counts, by_records);
}
