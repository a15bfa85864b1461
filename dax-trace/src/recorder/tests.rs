//! The recorder's tests: streams recorded into memory and read back.
use super::*;
use crate::event::{EventBody, StateDaxDevice};
use crate::source::Feed;
use crate::testkit::synthetic;
use crate::trace::{End, Header, Reader, Record};
use std::io::Cursor;

fn stream() -> (EventStream, Feed) {
    EventStream::channel(synthetic::session())
}

fn writer(stream: &EventStream, opts: &RecordOptions) -> Writer<Vec<u8>> {
    let header = Header::new(stream.info.clone(), opts.filter.describe());
    Writer::new(Vec::new(), &header).expect("header")
}

fn finished(recorded: Recorded) -> Summary {
    match recorded {
        Recorded::Finished(summary) => summary,
        other => panic!("not finished: {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_source_leaves_the_file_without_its_summary() {
    let (stream, tx) = stream();
    let events = synthetic::scenario();
    let sent = events.clone();
    // A source that dies after its first events, like a replay thread
    // that panicked.
    let source = tokio::spawn(async move {
        tx.send(sent).await.expect("send");
        panic!("the source broke");
    });
    let opts = RecordOptions::default();
    let w = writer(&stream, &opts);
    let (recorded, bytes) = record(stream, w, &opts, std::future::pending(), |_| {})
        .await
        .expect("records");
    assert!(source.await.is_err());
    match recorded {
        Recorded::SourceFailed { events: n, .. } => assert_eq!(n, events.len() as u64),
        other => panic!("a dead source is no end of trace: {other:?}"),
    }
    let (_, read_back, end) = read(bytes);
    assert_eq!(read_back, events, "what came before the failure is kept");
    assert!(matches!(end, End::Truncated { .. }), "{end:?}");
}

fn read(bytes: Vec<u8>) -> (Header, Vec<Event>, End) {
    let mut reader = Reader::new(Cursor::new(bytes)).expect("opens");
    let mut events = Vec::new();
    for record in reader.by_ref() {
        if let Ok(Record::Event(e)) = record {
            events.push(e);
        }
    }
    let end = reader.end().cloned().expect("ended");
    (reader.header().clone(), events, end)
}

#[tokio::test]
async fn records_a_stream_until_it_ends() {
    let (stream, tx) = stream();
    let events = synthetic::scenario();
    for e in &events {
        tx.send(vec![e.clone()]).await.expect("send");
    }
    tx.end();
    let opts = RecordOptions::default();
    let w = writer(&stream, &opts);
    let mut ticks = Vec::new();
    let (recorded, bytes) = record(stream, w, &opts, std::future::pending(), |p| ticks.push(*p))
        .await
        .expect("records");
    let summary = finished(recorded);
    assert_eq!(summary.end_reason, "source-ended");
    assert_eq!(summary.events, events.len() as u64);
    assert_eq!(ticks.last().map(|p| p.events), Some(events.len() as u64));
    let (header, read_back, end) = read(bytes);
    assert_eq!(header.session, synthetic::session());
    assert_eq!(read_back, events);
    assert_eq!(end, End::Complete);
}

#[tokio::test]
async fn a_stop_keeps_queued_events_and_what_the_source_sends_last() {
    let (stream, tx) = stream();
    let events = synthetic::scenario();
    let (queued, held) = events.split_at(events.len() / 2);
    for e in queued {
        tx.send(vec![e.clone()]).await.expect("send");
    }
    // Like live capture: the source holds events (the ring buffer's)
    // until asked to stop, then sends them and ends the stream.
    let stop = stream.stop.clone();
    let held = held.to_vec();
    let source = tokio::spawn(async move {
        stop.requested().await;
        tx.send(held).await.expect("send the last events");
        tx.end();
    });
    let opts = RecordOptions::default();
    let w = writer(&stream, &opts);
    let (recorded, bytes) = record(stream, w, &opts, async { "interrupted" }, |_| {})
        .await
        .expect("records");
    let summary = finished(recorded);
    source.await.expect("source task");
    assert_eq!(summary.end_reason, "interrupted");
    let (_, read_back, end) = read(bytes);
    assert_eq!(read_back, events);
    assert_eq!(end, End::Complete);
}

#[tokio::test(start_paused = true)]
async fn a_stop_waits_no_longer_than_the_grace_for_a_deaf_source() {
    let (stream, tx) = stream();
    let events = synthetic::scenario();
    for e in &events {
        tx.send(vec![e.clone()]).await.expect("send");
    }
    // The sender stays open and never hears the stop.
    let opts = RecordOptions::default();
    let w = writer(&stream, &opts);
    let began = tokio::time::Instant::now();
    let (recorded, bytes) = record(stream, w, &opts, async { "interrupted" }, |_| {})
        .await
        .expect("records");
    let summary = finished(recorded);
    assert_eq!(began.elapsed(), crate::source::FINISH_GRACE);
    drop(tx);
    assert_eq!(summary.end_reason, "interrupted");
    let (_, read_back, _) = read(bytes);
    assert_eq!(read_back, events);
}

#[tokio::test(start_paused = true)]
async fn a_duration_ends_the_recording_and_progress_ticks_each_second() {
    let (stream, tx) = stream();
    let opts = RecordOptions {
        duration: Some(Duration::from_millis(3500)),
        ..RecordOptions::default()
    };
    let w = writer(&stream, &opts);
    let mut ticks = 0;
    let (recorded, _) = record(stream, w, &opts, std::future::pending(), |_| ticks += 1)
        .await
        .expect("records");
    let summary = finished(recorded);
    drop(tx);
    assert_eq!(summary.end_reason, "duration");
    // Three periodic ticks and the final one.
    assert_eq!(ticks, 4);
}

#[tokio::test]
async fn the_device_filter_keeps_deviceless_events_and_drops_other_devices() {
    let (stream, tx) = stream();
    let mut events = synthetic::scenario();
    let mut other = events
        .iter()
        .find(|e| matches!(e.body, EventBody::Claim(_)))
        .expect("the scenario has a claim")
        .clone();
    if let EventBody::Claim(c) = &mut other.body {
        c.bdev = Dev::new(259, 1);
    }
    events.push(other);
    for e in &events {
        tx.send(vec![e.clone()]).await.expect("send");
    }
    tx.end();
    let opts = RecordOptions {
        filter: EventFilter {
            dev: Some(synthetic::PMEM0),
        },
        ..RecordOptions::default()
    };
    let w = writer(&stream, &opts);
    let (_, bytes) = record(stream, w, &opts, std::future::pending(), |_| {})
        .await
        .expect("records");
    let (header, read_back, _) = read(bytes);
    assert_eq!(header.filters, vec!["dev=259:0".to_string()]);
    assert!(
        !read_back.contains(&events[events.len() - 1]),
        "pmem1's claim"
    );
    // The state at start is filtered too: pmem0's dax_device only, and
    // not the dm target over pmem1.
    let dax_devices: Vec<&str> = read_back
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::StateDaxDevice(d) => Some(d.disk.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(dax_devices, vec!["pmem0"]);
    assert!(
        !read_back
            .iter()
            .any(|e| matches!(e.body, EventBody::StateDmTarget(_)))
    );
    // Everything about pmem0, and everything about no device, is kept.
    let about_pmem0_or_none =
        |e: &&Event| e.body.devices().is_empty() || e.body.devices().contains(&synthetic::PMEM0);
    let kept: Vec<&Event> = events.iter().filter(about_pmem0_or_none).collect();
    assert_eq!(read_back.iter().collect::<Vec<_>>(), kept);
}

#[test]
fn the_device_filter_covers_the_state_at_start() {
    let state = |bdev| {
        Event::own(
            1,
            StateDaxDevice {
                bdev,
                ..StateDaxDevice::default()
            }
            .into(),
        )
    };
    let filter = EventFilter {
        dev: Some(synthetic::PMEM0),
    };
    assert!(filter.keeps(&state(synthetic::PMEM0)));
    assert!(!filter.keeps(&state(Dev::new(259, 1))));
    // An unknown dev_t names no device: kept.
    assert!(filter.keeps(&state(Dev(0))));
}
