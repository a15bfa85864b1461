//! Faults counted in the kernel in the exports: Perfetto's `faults` counter
//! climbs by each `fault-counts` event's count, to the total the same
//! faults as records reach; JSON lines name the kind and its fields.
use super::{exporter, perfetto_of};
use crate::event::Event;
use crate::export::Format;
use crate::testkit::fixture::{DAX0, PMEM0, Script};
use crate::testkit::synthetic;

/// The values of the `faults` counter track, in order.
fn fault_counter(events: &[Event]) -> Vec<u64> {
    perfetto_of(events)
        .iter()
        .filter(|e| e["ph"] == "C" && e["name"] == "faults")
        .filter_map(|e| e["args"]["faults"].as_u64())
        .collect()
}

fn mounted() -> Script {
    let mut s = Script::default();
    s.claim(DAX0, 0xffff_8880_0b00_0000, PMEM0, "pmem0");
    s
}

#[test]
fn the_faults_counter_reaches_the_same_total_from_counts_as_from_records() {
    let mut records = mounted();
    for _ in 0..6 {
        records.fault(PMEM0, false);
    }
    records.fault(PMEM0, true);
    let mut counted = mounted();
    counted
        .fault_counts(PMEM0, false, 4)
        .fault_counts(PMEM0, true, 1)
        .fault_counts(PMEM0, false, 2);
    let by_records = fault_counter(&records.build());
    assert_eq!(by_records, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(fault_counter(&counted.build()), [4, 5, 7]);
}

#[test]
fn jsonl_names_the_fault_counts_kind_and_its_fields() {
    let mut s = Script::default();
    s.fault_counts(PMEM0, true, 1234);
    let header = crate::trace::Header::new(synthetic::session(), Vec::new());
    let mut out = Vec::new();
    {
        let mut exporter = exporter(Format::Jsonl, &header, None, &mut out).expect("starts");
        for e in &s.build() {
            exporter.event(e).expect("writes");
        }
        exporter.finish().expect("finishes");
    }
    let text = String::from_utf8(out).expect("utf-8");
    let line = text.lines().nth(1).expect("an event line after the header");
    let event: serde_json::Value = serde_json::from_str(line).expect("JSON");
    let body = &event["body"];
    assert_eq!(body["type"], "fault-counts", "{line}");
    assert_eq!(body["dev"], "259:0", "{line}");
    assert_eq!(body["pmd"], true, "{line}");
    assert_eq!(body["result"], 256, "{line}");
    assert_eq!(body["count"], 1234, "{line}");
    assert!(body.get("_pad").is_none(), "{line}");
}
