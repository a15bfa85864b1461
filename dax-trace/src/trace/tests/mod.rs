//! Round trips, cut files, flipped bytes and file creation rules.
mod version;
use crate::event::{
    Claim, ClaimApiCode, DaxAddHost, Dev, DiskName, Drops, Flag, OptU64, WaitApiCode, WaitEnd,
};
use std::io::Cursor;
use std::os::unix::fs::PermissionsExt;

use super::format::{FRAME_LEN, PREAMBLE_LEN};
use super::*;
use crate::event::{Event, EventBody};
use crate::testkit::synthetic;

fn header() -> Header {
    let mut h = Header::new(synthetic::session(), vec!["dev=259:0".into()]);
    // Fixed values so files are byte-identical between runs.
    h.command_line = vec![
        "daxtrace".into(),
        "record".into(),
        "-o".into(),
        "t.dxt".into(),
    ];
    h.started_unix_ns = 1_764_000_005_000_000_000;
    h
}

/// A finished trace of `events` in memory.
fn trace_bytes(events: &[Event]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), &header()).expect("header");
    for e in events {
        w.write_event(e).expect("event");
    }
    w.finish("duration").expect("finish").1
}

/// Reads everything; returns the events, the summary and how it ended.
fn read_all(bytes: &[u8]) -> Result<(Vec<Event>, Option<Summary>, End), TraceError> {
    let mut reader = Reader::new(Cursor::new(bytes))?;
    let mut events = Vec::new();
    let mut summary = None;
    for record in reader.by_ref() {
        match record {
            Ok(Record::Event(e)) => events.push(e),
            Ok(Record::Summary(s)) => summary = Some(s),
            Ok(Record::Stack(_) | Record::State(_)) => {}
            Err(_) => break,
        }
    }
    let end = reader.end().cloned().expect("iteration ended");
    Ok((events, summary, end))
}

/// Byte offset at which each record ends (header first).
fn record_ends(bytes: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut at = PREAMBLE_LEN;
    while at + FRAME_LEN <= bytes.len() {
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        at += FRAME_LEN + len as usize;
        ends.push(at);
    }
    ends
}

#[test]
fn events_header_and_summary_round_trip() {
    let events = synthetic::scenario();
    assert!(
        events
            .iter()
            .any(|e| e.point == crate::event::USERSPACE_POINT),
        "the scenario exercises userspace-made kinds too"
    );
    let bytes = trace_bytes(&events);
    let reader = Reader::new(Cursor::new(&bytes)).expect("opens");
    assert_eq!(reader.header(), &header());
    let (read, summary, end) = read_all(&bytes).expect("reads");
    assert_eq!(read, events);
    assert_eq!(end, End::Complete);
    let summary = summary.expect("summary");
    assert_eq!(summary.events, events.len() as u64);
    assert_eq!(summary.drops, 2);
    assert_eq!(summary.first_ts_ns, Some(events[0].ts_ns));
    assert_eq!(summary.last_ts_ns, events.last().map(|e| e.ts_ns));
    assert_eq!(summary.end_reason, "duration");
}

#[test]
fn a_file_cut_anywhere_keeps_every_complete_record() {
    let events = synthetic::scenario();
    let bytes = trace_bytes(&events);
    let ends = record_ends(&bytes);
    assert_eq!(ends.last(), Some(&bytes.len()));
    let header_end = ends[0];
    for cut in 0..bytes.len() {
        let part = &bytes[..cut];
        if cut < header_end {
            match Reader::new(Cursor::new(part)) {
                Err(TraceError::Truncated { offset, .. }) => {
                    assert!(offset == 0 || offset == PREAMBLE_LEN as u64, "cut {cut}")
                }
                Err(other) => panic!("cut {cut}: wrong error {other}"),
                Ok(_) => panic!("cut {cut}: a file without its header opened"),
            }
            continue;
        }
        let (read, summary, end) = read_all(part).expect("header intact");
        // Records wholly before the cut, minus the header.
        let complete = ends.iter().filter(|&&e| e <= cut).count() - 1;
        let complete_events = complete.min(events.len());
        assert_eq!(read, events[..complete_events], "cut {cut}");
        assert_eq!(summary, None, "cut {cut}");
        let last_good = ends[complete];
        match end {
            End::Truncated { offset, reason } => {
                assert_eq!(offset, last_good as u64, "cut {cut}");
                assert!(!reason.is_empty());
            }
            other => panic!("cut {cut}: ended {other}"),
        }
    }
}

#[test]
fn a_flipped_byte_is_a_clear_error_and_keeps_what_came_before() {
    let events = synthetic::scenario();
    let bytes = trace_bytes(&events);
    let ends = record_ends(&bytes);
    for at in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        let (read, _, end) = match read_all(&bad) {
            Ok(r) => r,
            Err(
                TraceError::NotATrace
                | TraceError::Version { .. }
                | TraceError::Corrupt { .. }
                | TraceError::Truncated { .. },
            ) => {
                assert!(at < ends[0], "byte {at}: an error opening after the header");
                continue;
            }
            Err(other) => panic!("byte {at}: {other}"),
        };
        assert!(at >= ends[0], "byte {at}: a damaged header was accepted");
        // The record holding the flipped byte, and where it starts.
        let record = ends.iter().position(|&e| e > at).expect("inside a record");
        let start = ends[record - 1];
        assert_eq!(read, events[..(record - 1).min(events.len())], "byte {at}");
        match end {
            End::Corrupt { offset, .. } => assert_eq!(offset, start as u64, "byte {at}"),
            // A JSON record's length grown past the end of the file looks like a cut.
            End::Truncated { offset, .. } => {
                assert_eq!(offset, start as u64, "byte {at}");
                assert!(
                    (start + 4..start + 8).contains(&at),
                    "byte {at}: only a length flip may look like a cut"
                );
            }
            other => panic!("byte {at}: ended {other}"),
        }
    }
}

#[test]
fn data_after_the_summary_is_corrupt() {
    let mut bytes = trace_bytes(&synthetic::scenario());
    let len = bytes.len();
    bytes.extend_from_slice(&[0u8; 20]);
    let (_, summary, end) = read_all(&bytes).expect("opens");
    assert!(summary.is_some());
    assert!(
        matches!(end, End::Corrupt { offset, .. } if offset == len as u64),
        "{end}"
    );
}

#[test]
fn other_files_and_versions_are_refused() {
    assert!(matches!(
        Reader::new(Cursor::new(
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".as_slice()
        )),
        Err(TraceError::NotATrace)
    ));
    let mut bytes = trace_bytes(&[]);
    bytes[8] = 99;
    assert!(matches!(
        Reader::new(Cursor::new(&bytes)),
        Err(TraceError::Version {
            found: 99,
            oldest: 1,
            newest: FORMAT_VERSION
        })
    ));
}

#[test]
fn a_killed_recording_reads_as_truncated_without_summary() {
    let events = synthetic::scenario();
    let mut w = Writer::new(Vec::new(), &header()).expect("header");
    for e in &events {
        w.write_event(e).expect("event");
    }
    w.flush().expect("flush");
    let bytes = std::mem::take(&mut *w_inner(&mut w));
    let (read, summary, end) = read_all(&bytes).expect("opens");
    assert_eq!(read, events);
    assert_eq!(summary, None);
    assert!(
        matches!(&end, End::Truncated { offset, reason } if *offset == bytes.len() as u64 && reason.contains("summary")),
        "{end}"
    );
}

/// The bytes written so far by an unfinished in-memory writer.
fn w_inner(w: &mut Writer<Vec<u8>>) -> &mut Vec<u8> {
    w.get_mut()
}

#[test]
fn new_files_are_private_and_never_overwritten_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.dxt");
    let file = create(&path, CreateOptions::default()).expect("creates");
    drop(file);
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(matches!(
        create(&path, CreateOptions::default()),
        Err(TraceError::Exists { .. })
    ));
    std::fs::write(&path, b"old contents").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let file = create(&path, CreateOptions { force: true }).expect("--force overwrites");
    let mut w = Writer::to_file(file, &header()).expect("header");
    w.write_event(&synthetic::scenario()[0]).expect("event");
    w.finish_file("duration").expect("finish");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "an overwritten file is made private again"
    );
    let mut reader = Reader::open(&path).expect("opens");
    assert!(matches!(reader.next(), Some(Ok(Record::Event(_)))));
    assert!(matches!(reader.next(), Some(Ok(Record::Summary(_)))));
    assert!(reader.next().is_none());
    assert_eq!(reader.end(), Some(&End::Complete));
}

#[test]
fn a_symlink_is_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("target");
    std::fs::write(&target, b"precious").expect("write");
    let link = dir.path().join("link.dxt");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    assert!(create(&link, CreateOptions::default()).is_err());
    assert!(create(&link, CreateOptions { force: true }).is_err());
    assert_eq!(std::fs::read(&target).expect("read"), b"precious");
}

proptest::proptest! {
    #[test]
    fn any_event_round_trips(
        ts in proptest::prelude::any::<u64>(),
        pid in proptest::prelude::any::<u32>(),
        comm in "[a-z/0-9 ]{0,24}",
        disk in "\\PC{0,40}",
        pfn in proptest::prelude::any::<u64>(),
        which in 0u8..4,
    ) {
        // Any string: names longer than their slot are cut when the event is made.
        let disk = DiskName::from_str_lossy(&disk);
        let body: EventBody = match which {
            0 => DaxAddHost { dax_dev: pfn, disk }.into(),
            1 => WaitEnd {
                inode: 1,
                ino: 2,
                dev: Dev(3),
                api: WaitApiCode(pid),
                latency_ns: ts,
                ret: -(pid as i64),
                busy_pfn: OptU64(pfn),
                busy_hits: 1,
            }
            .into(),
            2 => Drops { point: pid as u16, total: pfn, ..Default::default() }.into(),
            _ => Claim {
                dax_dev: pfn,
                holder: ts,
                bdev: Dev(pid),
                disk,
                granted: Flag(pid),
                api: ClaimApiCode(pid),
                ..Default::default()
            }
            .into(),
        };
        let event = Event { ts_ns: ts, cpu: 0, pid, tid: pid, comm: comm.as_str().into(), point: 3, body };
        let bytes = trace_bytes(std::slice::from_ref(&event));
        let (read, _, end) = read_all(&bytes).expect("reads");
        proptest::prop_assert_eq!(read, vec![event]);
        proptest::prop_assert_eq!(end, End::Complete);
    }
}

#[test]
fn the_shipped_sample_is_what_the_generator_writes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(synthetic::SAMPLE_PATH);
    let shipped = std::fs::read(&path).expect("the sample ships in the repository");
    let fresh = synthetic::sample_trace().expect("generates");
    assert!(
        shipped == fresh,
        "{} is stale: regenerate it with `{}`",
        synthetic::SAMPLE_PATH,
        synthetic::SAMPLE_COMMAND
    );
    let (events, summary, end) = read_all(&shipped).expect("reads");
    assert_eq!(events, synthetic::scenario());
    assert_eq!(end, End::Complete);
    assert_eq!(summary.map(|s| s.events), Some(events.len() as u64));
}
