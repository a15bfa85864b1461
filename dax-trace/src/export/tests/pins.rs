//! Page owners and kernel stacks in the exports of the synthetic sample: the
//! JSON lines' stack lines, Perfetto's pin slices and refused-pin instants,
//! and the stacks a trace-file copy keeps.
use std::collections::HashMap;
use std::io::Cursor;

use super::super::*;
use crate::testkit::synthetic;

fn export_sample(format: Format) -> String {
    let bytes = synthetic::sample_trace().expect("sample");
    let mut reader = Reader::new(Cursor::new(bytes)).expect("opens");
    let mut out = Vec::new();
    export(&mut reader, format, &mut out).expect("exports");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn jsonl_writes_each_stack_once_just_before_the_first_event_naming_it() {
    let out = export_sample(Format::Jsonl);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let mut seen = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line["type"] == "stack" {
            let id = line["id"].as_u64().expect("id");
            assert!(!seen.contains(&id), "stack {id} written twice");
            seen.push(id);
            // The next line is the first event naming it.
            assert_eq!(
                lines[i + 1]["body"]["stack"].as_u64(),
                Some(id),
                "{}",
                lines[i + 1]
            );
            assert!(line["frames"][0]["symbol"].is_string(), "{line}");
        } else if let Some(id) = line["body"]["stack"].as_u64() {
            assert!(seen.contains(&id), "event names stack {id} before its line");
        }
    }
    assert_eq!(seen, vec![1, 3, 2]);
    let ext4 = lines
        .iter()
        .find(|l| l["type"] == "stack" && l["id"] == 1)
        .expect("stack 1");
    let modules: Vec<&str> = ext4["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter_map(|f| f["module"].as_str())
        .collect();
    assert_eq!(modules, ["ext4", "ext4"]);
}

#[test]
fn perfetto_draws_each_owner_as_a_pin_slice_from_since_to_its_release() {
    let out = export_sample(Format::Perfetto);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let mut begins: HashMap<String, &serde_json::Value> = HashMap::new();
    let mut slices = Vec::new();
    for e in events {
        let id = || e["id"].as_str().expect("id").to_string();
        match e["ph"].as_str() {
            Some("b") => {
                assert_eq!(e["cat"], "pin");
                begins.insert(id(), e);
            }
            Some("e") => {
                let b = begins.remove(&id()).expect("an end after its begin");
                let ts = |v: &serde_json::Value| v["ts"].as_f64().expect("ts");
                slices.push((b, ts(e) - ts(b), e["args"]["ended"].clone()));
            }
            _ => {}
        }
    }
    assert!(begins.is_empty(), "every pin slice ends");
    assert_eq!(slices.len(), 3);
    // The ext4 reader: its own put 5.050 ms after it took the page.
    let (b, dur_us, ended) = &slices[0];
    assert_eq!(b["name"], "pin pfn 0x40812");
    assert_eq!(b["args"]["entry_point"], "get_user_pages_fast");
    assert_eq!(b["args"]["foll"], "FOLL_GET");
    assert!(
        b["args"]["stack"]
            .as_str()
            .is_some_and(|s| s.starts_with("get_user_pages_fast <- __iov_iter_get_pages_alloc")),
        "{b}"
    );
    assert!(
        b["args"]["frames"][7]
            .as_str()
            .is_some_and(|f| f.ends_with("[ext4]")),
        "{b}"
    );
    assert!((dur_us - 5050.0).abs() < 0.01, "{dur_us}");
    assert_eq!(ended, "released");
    assert_eq!(slices[1].2, "page idle");
    // The pinner's process track is named after it.
    let pid = b["pid"].as_u64().expect("pid");
    assert!(events.iter().any(|e| e["ph"] == "M"
        && e["pid"].as_u64() == Some(pid)
        && e["args"]["name"] == "pinner dma-truncate (pid 311)"));
    let refused: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["name"] == "long-term pin refused")
        .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0]["args"]["path"], "/mnt/pmem0/ring.buf");
    assert_eq!(refused[0]["args"]["ret"], -95);
    assert!(
        refused[0]["args"]["stack"]
            .as_str()
            .is_some_and(|s| s.contains("io_sqe_buffer_register"))
    );
}

#[test]
fn a_pin_never_released_runs_to_the_end_of_the_trace() {
    use crate::testkit::fixture::{PGMAP0, PMEM0, Script};
    let mut s = Script::default();
    s.by(700, "truncate").busy(PGMAP0, 0x40010, PMEM0, 12);
    let since = s.ts_ns - 1_000;
    s.by(585, "fio").pin_owner(
        PGMAP0,
        0x40010,
        dax_trace_common::probe::idx::PIN_USER_PAGES_FAST,
        since,
        0,
    );
    s.by(700, "truncate").wait_begin(PMEM0, 12);
    let end_ts = s.ts_ns;
    let header = crate::trace::Header::new(synthetic::session(), Vec::new());
    let mut out = Vec::new();
    {
        let mut exporter = exporter(Format::Perfetto, &header, None, &mut out).expect("starts");
        for e in s.build() {
            exporter.event(&e).expect("writes");
        }
        exporter.finish().expect("finishes");
    }
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let end = events
        .iter()
        .find(|e| e["ph"] == "e")
        .expect("the open pin is closed");
    assert_eq!(end["args"]["ended"], "end of trace (still held)");
    let ts_ns = (end["ts"].as_f64().expect("ts") * 1000.0).round() as u64;
    assert_eq!(ts_ns, end_ts);
}

#[test]
fn a_trace_file_copy_keeps_the_stack_records() {
    let bytes = synthetic::sample_trace().expect("sample");
    let mut reader = Reader::new(Cursor::new(bytes)).expect("opens");
    let mut copy = Vec::new();
    export(&mut reader, Format::Dxt, &mut copy).expect("exports");
    let stacks: Vec<u32> = Reader::new(Cursor::new(copy))
        .expect("the copy opens")
        .filter_map(|r| match r {
            Ok(Record::Stack(s)) => Some(s.id),
            _ => None,
        })
        .collect();
    assert_eq!(stacks, vec![1, 2, 3]);
}

#[test]
fn a_claim_slice_carries_the_claimers_stack() {
    use crate::event::{Claim, ClaimApi, EventBody};
    use crate::stacks::StackFrame;
    use crate::testkit::fixture::{DAX0, PMEM0, Script};
    use dax_trace_common::field::StackId;
    let mut s = Script::default();
    s.by(420, "mount").push(EventBody::Claim(Claim {
        dax_dev: DAX0,
        bdev: PMEM0,
        disk: "pmem0".into(),
        granted: true.into(),
        api: ClaimApi::FsDaxGetByBdev.into(),
        stack: StackId(4),
        ..Default::default()
    }));
    let stack = StackRecord {
        id: 4,
        frames: ["fs_dax_get_by_bdev", "ext4_fill_super"]
            .iter()
            .map(|f| StackFrame {
                addr: 0xffff_ffff_c000_0000,
                symbol: Some(f.to_string()),
                offset: 0x10,
                module: None,
            })
            .collect(),
    };
    let header = crate::trace::Header::new(synthetic::session(), Vec::new());
    let mut out = Vec::new();
    {
        let mut exporter = exporter(Format::Perfetto, &header, None, &mut out).expect("starts");
        exporter.stack(&stack).expect("keeps the stack");
        for e in s.build() {
            exporter.event(&e).expect("writes");
        }
        exporter.finish().expect("finishes");
    }
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    let claim = doc["traceEvents"]
        .as_array()
        .expect("traceEvents")
        .iter()
        .find(|e| e["ph"] == "B" && e["name"] == "claim pmem0")
        .expect("the claim slice")
        .clone();
    assert_eq!(
        claim["args"]["stack"],
        "fs_dax_get_by_bdev <- ext4_fill_super"
    );
    assert_eq!(claim["args"]["stack_id"], 4);
}
