//! Golden exports of the synthetic scenario, and structural checks of the
//! Perfetto output.
use std::collections::HashMap;
use std::io::Cursor;

use super::*;
use crate::trace::synthetic;

fn export_sample(format: Format) -> (String, Exported) {
    let bytes = synthetic::sample_trace().expect("sample");
    let mut reader = Reader::new(Cursor::new(bytes)).expect("opens");
    let mut out = Vec::new();
    let exported = export(&mut reader, format, &mut out).expect("exports");
    (String::from_utf8(out).expect("utf-8"), exported)
}

#[test]
fn jsonl_golden() {
    let (out, exported) = export_sample(Format::Jsonl);
    assert_eq!(exported.end, End::Complete);
    assert_eq!(out.lines().count() as u64, exported.events);
    for line in out.lines() {
        let back: Event = serde_json::from_str(line).expect("each line is an Event");
        assert!(synthetic::scenario().contains(&back));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn perfetto_golden() {
    let (out, _) = export_sample(Format::Perfetto);
    insta::assert_snapshot!(out);
}

#[test]
fn perfetto_output_is_a_trace_event_document_with_balanced_slices() {
    let (out, _) = export_sample(Format::Perfetto);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let mut depth: HashMap<(u64, u64), i64> = HashMap::new();
    let mut names = Vec::new();
    for e in events {
        let key = (
            e["pid"].as_u64().expect("pid"),
            e["tid"].as_u64().expect("tid"),
        );
        match e["ph"].as_str().expect("ph") {
            "B" => *depth.entry(key).or_default() += 1,
            "E" => {
                let d = depth.entry(key).or_default();
                *d -= 1;
                assert!(*d >= 0, "an end without a begin on {key:?}");
            }
            "M" => names.push(e["args"]["name"].as_str().expect("name").to_string()),
            "C" | "i" => assert!(e["ts"].is_number()),
            other => panic!("unexpected phase {other}"),
        }
    }
    // Both mount cycles are balanced; only the last truncate's wait stays open (stuck).
    assert_eq!(depth.values().sum::<i64>(), 1);
    assert!(
        names.iter().any(|n| n.starts_with("pmem0 dax_dev")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("pgmap ")), "{names:?}");
    assert!(names.iter().any(|n| n == "fs 259:0"), "{names:?}");
    let busy_max = events
        .iter()
        .filter(|e| e["name"] == "busy pages")
        .filter_map(|e| e["args"]["busy"].as_u64())
        .max();
    assert_eq!(busy_max, Some(1));
}

#[test]
fn a_truncated_trace_exports_what_it_has() {
    let bytes = synthetic::sample_trace().expect("sample");
    let cut = &bytes[..bytes.len() - 30];
    let mut reader = Reader::new(Cursor::new(cut)).expect("opens");
    let mut out = Vec::new();
    let exported = export(&mut reader, Format::Jsonl, &mut out).expect("exports");
    assert_eq!(exported.events, synthetic::scenario().len() as u64);
    assert!(matches!(exported.end, End::Truncated { .. }));
}
