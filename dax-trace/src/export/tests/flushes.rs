//! virtio-pmem flushes in Perfetto: a slice on the waiting thread, ending
//! at the record's time and starting its latency earlier.
use super::perfetto_of;
use crate::testkit::fixture::{DAX0, PMEM0, Script};

#[test]
fn a_flush_is_a_slice_as_long_as_its_latency() {
    let mut s = Script::default();
    s.claim(DAX0, 0xffff_8880_0b00_0000, PMEM0, "pmem0")
        .by(77, "kworker/0:2")
        .flush(PMEM0, 2_500_000, 0)
        .flush(PMEM0, 900_000, -5);
    let events = perfetto_of(&s.build());
    let slices: Vec<_> = events
        .iter()
        .filter(|e| {
            e["ph"] == "B"
                && e["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("pmem flush"))
        })
        .collect();
    assert_eq!(slices.len(), 2, "{events:?}");
    assert_eq!(slices[0]["args"]["latency_ns"], 2_500_000u64);
    assert_eq!(slices[1]["name"], "pmem flush (failed)");
    // Begin and end on one track, latency apart (microseconds in the JSON).
    let begin = slices[0];
    let end = events
        .iter()
        .find(|e| {
            e["ph"] == "E"
                && e["tid"] == begin["tid"]
                && e["pid"] == begin["pid"]
                && e["ts"].as_f64() > begin["ts"].as_f64()
        })
        .expect("the slice ends on its track");
    let took_us = end["ts"].as_f64().unwrap() - begin["ts"].as_f64().unwrap();
    assert!((took_us - 2_500.0).abs() < 0.01, "{took_us}");
}
