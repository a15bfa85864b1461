//! Golden exports of the synthetic scenario, and structural checks of the
//! Perfetto output.
mod faults;
mod flushes;
mod orphans;
mod pins;
use crate::event::{
    DaxAddHost, DiskName, DmAccess, DmMember, DmTableDax, HolderNotifyFailure, PutStats,
};
use std::collections::HashMap;
use std::io::Cursor;

use super::*;
use crate::event::EventBody;
use crate::testkit::synthetic;

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
    let mut lines = out.lines();
    let header: serde_json::Value =
        serde_json::from_str(lines.next().expect("a header line")).expect("JSON");
    assert_eq!(header["type"], "header");
    assert_eq!(header["schema"], crate::json::SCHEMA_VERSION);
    assert_eq!(header["kernel_release"], synthetic::KERNEL_RELEASE);
    assert_eq!(header["monotonic_to_realtime_ns"], "1764000000000000000");
    assert_eq!(header["probes"]["families"][1]["family"], "claim");
    let (stacks, events): (Vec<&str>, Vec<&str>) =
        lines.partition(|l| l.starts_with("{\"type\":\"stack\""));
    assert_eq!(events.len() as u64, exported.events);
    // The three stacks of the sample, each named by some event.
    assert_eq!(stacks.len(), 3);
    for line in events {
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert!(crate::json::is_exact(&value), "{line}");
        let back: Event = serde_json::from_value(crate::json::restore(value))
            .expect("each other line is an Event");
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
            // Async pin slices: balanced per id (checked in pins_tests).
            "b" | "e" => assert!(e["id"].is_string()),
            "C" | "i" => assert!(e["ts"].is_number()),
            other => panic!("unexpected phase {other}"),
        }
    }
    // Both mount cycles and the xfs held since before the trace are
    // balanced; the last truncate's wait stays open (stuck), and so do the
    // two claims held throughout (dm on pmem1, ext4 on dm-0).
    assert_eq!(depth.values().sum::<i64>(), 3);
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "B" && e["name"] == "held pmem0 (before the trace)"),
        "the claim found at start is a slice"
    );
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

/// Exports `events` (as if read from a finished trace) to Perfetto JSON.
pub(super) fn perfetto_of(events: &[Event]) -> Vec<serde_json::Value> {
    let header = crate::trace::Header::new(synthetic::session(), Vec::new());
    let mut out = Vec::new();
    {
        let mut exporter = exporter(Format::Perfetto, &header, None, &mut out).expect("starts");
        for e in events {
            exporter.event(e).expect("writes");
        }
        exporter.finish().expect("finishes");
    }
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    doc["traceEvents"].as_array().expect("traceEvents").clone()
}

/// The name a process track got from its `process_name` metadata.
fn process_names(events: &[serde_json::Value]) -> HashMap<u64, String> {
    events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "process_name")
        .map(|e| {
            let pid = e["pid"].as_u64().expect("pid");
            (pid, e["args"]["name"].as_str().expect("name").to_string())
        })
        .collect()
}

#[test]
fn perfetto_shows_dm_members_dm_pages_tables_and_holder_notices() {
    use crate::testkit::fixture::{DAX0, DAXDM, DM0, PGMAP0, PMEM0, Script, XFS_MOUNT};
    let mut s = Script::default();
    s.push(EventBody::DaxAddHost(DaxAddHost {
        dax_dev: DAX0,
        disk: "pmem0".into(),
    }))
    .push(EventBody::DaxAddHost(DaxAddHost {
        dax_dev: DAXDM,
        disk: "dm-0".into(),
    }))
    .push(EventBody::DmTableDax(DmTableDax {
        table: 0xffff_8880_0050_0000,
        capable: true.into(),
        ..Default::default()
    }))
    .push(EventBody::DmMember(DmMember {
        member_dax_dev: DAX0,
        taken: true.into(),
        bdev: PMEM0,
        disk: "pmem0".into(),
    }))
    .claim(DAXDM, XFS_MOUNT, DM0, "dm-0");
    for pages in [1, 1, 512] {
        s.push(EventBody::DmAccess(DmAccess {
            dm_dax_dev: DAXDM,
            member_dax_dev: DAX0,
            dm_pgoff: 0,
            member_pgoff: 0,
            nr_pages: pages,
        }));
    }
    s.push(EventBody::HolderNotifyFailure(HolderNotifyFailure {
        dax_dev: DAXDM,
        offset: 4096,
        len: 4096,
        flags: 0,
        holder: XFS_MOUNT,
    }))
    .release(DAXDM, XFS_MOUNT)
    .push(EventBody::DmMember(DmMember {
        member_dax_dev: DAX0,
        taken: false.into(),
        bdev: PMEM0,
        disk: "pmem0".into(),
    }))
    .push(EventBody::PutStats(PutStats {
        pgmap: PGMAP0,
        puts: 10,
        idles: 4,
    }));
    let events = perfetto_of(&s.build());
    let names = process_names(&events);
    let on = |pid: &serde_json::Value| names[&pid.as_u64().expect("pid")].clone();

    // pmem0 is a member of a dm table from "taken" to "dropped": one closed slice.
    let member: Vec<_> = events
        .iter()
        .filter(|e| (e["ph"] == "B" || e["ph"] == "E") && on(&e["pid"]).starts_with("pmem0 "))
        .collect();
    assert_eq!(member.len(), 2, "{member:?}");
    assert_eq!(member[0]["name"], "dm member pmem0");
    assert_eq!(member[1]["ph"], "E");
    assert_eq!(member[0]["tid"], member[1]["tid"]);

    // dm-0 counts the pages it mapped to pmem0.
    let dm_pages: Vec<u64> = events
        .iter()
        .filter(|e| e["name"] == "dm pages")
        .inspect(|e| assert!(on(&e["pid"]).starts_with("dm-0 dax_dev"), "{e}"))
        .map(|e| e["args"]["to pmem0"].as_u64().expect("series"))
        .collect();
    assert_eq!(dm_pages, vec![1, 2, 514]);

    let instant = |name: &str| {
        events
            .iter()
            .find(|e| e["ph"] == "i" && e["name"] == name)
            .unwrap_or_else(|| panic!("no instant {name}: {events:?}"))
    };
    assert_eq!(
        on(&instant("dm table is DAX-capable")["pid"]),
        "device-mapper"
    );
    let notice = instant("memory failure notified to the holder");
    assert!(on(&notice["pid"]).starts_with("dm-0 dax_dev"));
    assert_eq!(notice["args"]["len"], 4096);

    let puts = events
        .iter()
        .find(|e| e["name"] == "page puts")
        .expect("page puts counter");
    assert_eq!(
        (
            puts["args"]["puts"].as_u64(),
            puts["args"]["idles"].as_u64()
        ),
        (Some(10), Some(4))
    );
    assert!(on(&puts["pid"]).starts_with("pgmap "));
}

#[test]
fn a_dm_member_dropped_without_being_seen_taken_is_an_instant_not_an_unmatched_end() {
    use crate::testkit::fixture::{DAX0, PMEM0, Script};
    let mut s = Script::default();
    s.push(EventBody::DmMember(DmMember {
        member_dax_dev: DAX0,
        taken: false.into(),
        bdev: PMEM0,
        disk: DiskName::EMPTY,
    }));
    let events = perfetto_of(&s.build());
    assert!(events.iter().all(|e| e["ph"] != "E"), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "i" && e["name"] == "dm member dropped (taken before the trace)")
    );
}
