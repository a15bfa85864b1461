//! What version 2 adds: stack and state records, and records that only one
//! version may hold.
use std::io::Cursor;

use super::super::format::{self, PREAMBLE_LEN, Tag};
use super::super::*;
use crate::event::{Event, MAX_EVENT_SIZE, PagemapDestroy};
use crate::stacks::{StackFrame, StackRecord};
use crate::testkit::synthetic;

fn header() -> Header {
    Header::new(synthetic::session(), Vec::new())
}

fn event() -> Event {
    Event {
        ts_ns: 1,
        cpu: 0,
        pid: 2,
        tid: 2,
        comm: "t".into(),
        point: 0,
        body: PagemapDestroy { pgmap: 7 }.into(),
    }
}

fn records(bytes: &[u8]) -> (Vec<Record>, End) {
    let mut reader = Reader::new(Cursor::new(bytes)).expect("opens");
    let records = reader.by_ref().map_while(Result::ok).collect();
    (records, reader.end().cloned().expect("ended"))
}

/// A file of `version` holding one record `tag` with `payload`, no summary.
fn file_with(version: u32, tag: Tag, payload: &[u8]) -> Vec<u8> {
    let mut bytes = format::preamble().to_vec();
    bytes[8..12].copy_from_slice(&version.to_le_bytes());
    let json = serde_json::to_vec(&header()).expect("header json");
    bytes.extend_from_slice(&format::frame_head(Tag::Header, &json));
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&format::frame_head(tag, payload));
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn stacks_and_state_round_trip_between_events() {
    let stack = StackRecord {
        id: 7,
        frames: vec![
            StackFrame {
                addr: 0xffff_ffff_8100_0000,
                symbol: Some("pin_user_pages_fast".into()),
                offset: 36,
                module: None,
            },
            StackFrame {
                addr: 0xffff_ffff_c000_1000,
                symbol: None,
                offset: 0,
                module: Some("ext4".into()),
            },
        ],
    };
    let mut entries = serde_json::Map::new();
    entries.insert("mounts".into(), serde_json::json!([{"fs": "ext4"}]));
    let state = StateRecord {
        ts_ns: 5,
        reason: "start".into(),
        entries,
    };
    let mut w = Writer::new(Vec::new(), &header()).expect("header");
    w.write_state(&state).expect("state");
    w.write_stack(&stack).expect("stack");
    w.write_event(&event()).expect("event");
    let (summary, bytes) = w.finish("duration").expect("finish");
    assert_eq!(summary.events, 1, "stacks and state are not events");
    let (read, end) = records(&bytes);
    assert_eq!(end, End::Complete);
    assert_eq!(
        read[..3],
        [
            Record::State(state),
            Record::Stack(stack),
            Record::Event(event())
        ]
    );
}

#[test]
fn each_version_refuses_the_other_versions_event_records() {
    let mut buf = [0u8; MAX_EVENT_SIZE];
    let n = crate::event::encode_into(&event(), &mut buf);
    // A binary event in a version-1 file, a v1 raw event in a version-2 file.
    for (version, tag, payload) in [
        (1, Tag::Event, &buf[..n]),
        (2, Tag::RawEvent, &[0u8; v1::RAW_EVENT_SIZE][..]),
        (1, Tag::Stack, b"{}".as_slice()),
    ] {
        let (read, end) = records(&file_with(version, tag, payload));
        assert!(read.is_empty(), "{tag:?} in v{version}");
        match end {
            End::Corrupt { offset, reason } => {
                assert!(offset > PREAMBLE_LEN as u64, "{reason}");
                assert!(reason.contains(&format!("version {version}")), "{reason}");
            }
            other => panic!("{tag:?} in v{version} ended {other:?}"),
        }
    }
}

#[test]
fn event_records_must_have_their_kinds_size() {
    let mut buf = [0u8; MAX_EVENT_SIZE];
    let n = crate::event::encode_into(&event(), &mut buf);
    let mut longer = buf[..n].to_vec();
    longer.extend_from_slice(&[0; 8]);
    let (read, end) = records(&file_with(2, Tag::Event, &longer));
    assert!(read.is_empty());
    assert!(
        matches!(&end, End::Corrupt { reason, .. } if reason.contains("pagemap-destroy event of 16 payload bytes, expected 8")),
        "{end:?}"
    );
    // Longer than any kind: refused from the frame, before reading it all.
    let huge = vec![0u8; MAX_EVENT_SIZE + 1];
    let (_, end) = records(&file_with(2, Tag::Event, &huge));
    assert!(
        matches!(&end, End::Corrupt { reason, .. } if reason.contains("the largest kind")),
        "{end:?}"
    );
}

#[test]
fn a_bad_json_stack_is_corruption_not_a_panic() {
    let (_, end) = records(&file_with(2, Tag::Stack, b"{\"id\": \"seven\"}"));
    assert!(
        matches!(&end, End::Corrupt { reason, .. } if reason.contains("bad JSON stack")),
        "{end:?}"
    );
}

/// A refused pin as version 4 wrote it: 160 payload bytes, the path read
/// from /proc/PID/maps, nothing after it.
fn refused_pin_v4_record() -> Vec<u8> {
    use dax_trace_common::payload::RefusedPin;
    let mut e = event();
    e.body = RefusedPin {
        start: 0x7f00_0000_0000,
        nr_pages: 16,
        ret: -95,
        path: "/mnt/pmem0/ring.buf".into(),
        ..Default::default()
    }
    .into();
    let mut buf = [0u8; MAX_EVENT_SIZE];
    let n = crate::event::encode_into(&e, &mut buf);
    // Version 5 appended dev, path_from and ino: 16 bytes.
    buf[..n - 16].to_vec()
}

#[test]
fn a_version_4_refused_pin_reads_with_its_maps_path_and_no_kernel_name() {
    use dax_trace_common::payload::path_from;
    let (read, _) = records(&file_with(4, Tag::Event, &refused_pin_v4_record()));
    let Some(Record::Event(e)) = read.first() else {
        panic!("no event: {read:?}");
    };
    let crate::event::EventBody::RefusedPin(r) = &e.body else {
        panic!("not a refused pin: {e:?}");
    };
    assert_eq!(r.path.as_str(), "/mnt/pmem0/ring.buf");
    assert_eq!((r.dev.0, r.path_from, r.ino), (0, path_from::MAPS, 0));
    assert_eq!(r.nr_pages, 16);
    // The same bytes in a version-5 file are a record of the wrong size.
    let (read, end) = records(&file_with(5, Tag::Event, &refused_pin_v4_record()));
    assert!(read.is_empty());
    assert!(
        matches!(&end, End::Corrupt { reason, .. } if reason.contains("160 payload bytes, expected 176")),
        "{end:?}"
    );
}

#[test]
fn a_version_4_pagemap_birth_reads_without_kind_device_or_driver() {
    use crate::event::{EventBody, PagemapCreate};
    use dax_trace_common::memory::MemoryKind;
    let born = Event {
        body: PagemapCreate {
            pgmap: 0xffff_8880_0420_0000,
            memory_type: 4,
            pfn_start: 0x40a00,
            pfn_end: 0x60000,
            nr_range: 1,
            kind: MemoryKind::Generic.into(),
            device: "dax0.0".into(),
            driver: "device_dax".into(),
            ..Default::default()
        }
        .into(),
        ..event()
    };
    let mut buf = [0u8; MAX_EVENT_SIZE];
    let n = crate::event::encode_into(&born, &mut buf);
    // Version 4 wrote the payload without the 72 bytes appended in 5.
    let old = &buf[..n - 72];
    let (read, end) = records(&file_with(4, Tag::Event, old));
    assert!(!matches!(end, End::Corrupt { .. }), "{end:?}");
    let Some(Record::Event(Event {
        body: EventBody::PagemapCreate(c),
        ..
    })) = read.first()
    else {
        panic!("not read: {read:?}");
    };
    assert_eq!(
        (c.pgmap, c.memory_type, c.pfn_end),
        (0xffff_8880_0420_0000, 4, 0x60000)
    );
    assert_eq!(c.kind.get(), MemoryKind::Unknown);
    assert!(c.device.is_empty() && c.driver.is_empty());
    // The same short record in a version-5 file is corruption.
    let (read, end) = records(&file_with(5, Tag::Event, old));
    assert!(read.is_empty());
    assert!(matches!(end, End::Corrupt { .. }), "{end:?}");
    // And the whole one reads back whole.
    let (read, _) = records(&file_with(5, Tag::Event, &buf[..n]));
    assert_eq!(read.first(), Some(&Record::Event(born)));
}
