//! The flight recorder's tests: synthetic streams through the window and
//! the whole run, dumps read back as any trace is.
use std::path::Path;
use std::time::{Duration, Instant};

use super::window::Window;
use super::*;
use crate::check::{self, CheckOptions, Outcome};
use crate::collector::{Collector, CollectorConfig};
use crate::event::{EventBody, StuckWait};
use crate::source::Feed;
use crate::testkit::synthetic;
use crate::trace::{End, Reader, Record, Summary};

fn window(dir: &Path, opts: &FlightOptions) -> Window {
    let files = DumpFiles::new(&dir.join("flight")).expect("usable prefix");
    let header = Header::new(synthetic::session(), Vec::new());
    Window::new(files, header, crate::stacks::StackTable::new(), opts)
}

/// A window over the smallest ring allowed, for tests that overflow it.
fn smallest_window(dir: &Path) -> Window {
    let opts = FlightOptions {
        ring_bytes: MIN_RING_BYTES,
        ..FlightOptions::default()
    };
    window(dir, &opts)
}

/// Everything a dump holds, and how it ended.
fn read(path: &Path) -> (Header, Vec<Event>, Option<Summary>, End) {
    let mut reader = Reader::open(path).expect("opens");
    let mut events = Vec::new();
    for record in reader.by_ref() {
        if let Ok(Record::Event(e)) = record {
            events.push(e);
        }
    }
    let end = reader.end().cloned().expect("ended");
    (
        reader.header().clone(),
        events,
        reader.summary().cloned(),
        end,
    )
}

fn stuck(ts_ns: u64) -> Event {
    Event {
        ts_ns,
        cpu: 0,
        pid: 7,
        tid: 7,
        comm: "truncate".into(),
        point: 0,
        body: EventBody::StuckWait(StuckWait {
            pfn: synthetic::PFN_START,
            ..Default::default()
        }),
    }
}

fn dumps_in(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
}

#[test]
fn a_trigger_dumps_after_its_post_trigger_window_with_what_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = FlightOptions::default();
    let mut w = window(dir.path(), &opts);
    let t0 = Instant::now();
    let before: Vec<Event> = synthetic::page_storm(100).collect();
    for e in &before {
        assert!(w.event(e, t0).is_none());
    }
    assert!(w.event(&stuck(2_000_000_000), t0).is_none());
    assert!(w.is_pending());
    let after = stuck(2_000_000_001);
    let mut after = after.clone();
    after.body = synthetic::page_storm(1).next().expect("one").body;
    assert!(w.event(&after, t0 + Duration::from_millis(500)).is_none());
    assert!(
        w.tick(t0 + Duration::from_millis(999)).is_none(),
        "too early"
    );
    let dumped = w
        .tick(t0 + Duration::from_secs(1))
        .expect("due")
        .expect("written");
    assert_eq!(dumped.triggers, vec![Trigger::StuckWait]);
    assert_eq!(dumped.path, dir.path().join("flight.0001.dxt"));
    let (header, events, summary, end) = read(&dumped.path);
    assert_eq!(end, End::Complete);
    assert_eq!(header.flight_window(), Some("stuck-wait"));
    assert_eq!(events.len(), 102, "history, trigger and what followed");
    assert_eq!(events[..100], before[..]);
    assert_eq!(events[101], after);
    let summary = summary.expect("summary");
    assert_eq!(summary.events, 102);
    assert_eq!(summary.end_reason, "flight-recorder dump (stuck-wait)");
    assert!(!w.is_pending());
}

#[test]
fn a_burst_of_triggers_writes_one_dump_per_hold_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = FlightOptions::default();
    let mut w = window(dir.path(), &opts);
    let t0 = Instant::now();
    let mut written = 0;
    // 300 stuck waits over 15 s, one every 50 ms, ticks in between.
    for i in 0..300u64 {
        let now = t0 + Duration::from_millis(i * 50);
        if let Some(d) = w.event(&stuck(i), now) {
            d.expect("written");
            written += 1;
        }
        if let Some(d) = w.tick(now + Duration::from_millis(25)) {
            d.expect("written");
            written += 1;
        }
    }
    // At 0 s (written at 1 s) and at 10 s (written at 11 s).
    assert_eq!(written, 2);
    assert_eq!(dumps_in(dir.path()).len(), 2);
    // Each opening is joined by the 20 that come within its second; the
    // rest are held off.
    assert_eq!(w.note().held_off, 300 - 2 - 2 * 20, "{:?}", w.note());
}

#[test]
fn triggers_in_the_post_window_join_the_waiting_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = window(dir.path(), &FlightOptions::default());
    let t0 = Instant::now();
    w.trigger(Trigger::Signal, t0);
    w.event(&stuck(5), t0 + Duration::from_millis(200));
    let dumped = w
        .tick(t0 + Duration::from_secs(2))
        .expect("due")
        .expect("written");
    assert_eq!(dumped.triggers, vec![Trigger::Signal, Trigger::StuckWait]);
    let (header, ..) = read(&dumped.path);
    assert_eq!(header.flight_window(), Some("sigusr1,stuck-wait"));
}

#[test]
fn the_state_at_start_is_in_every_dump_however_old() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = smallest_window(dir.path());
    let t0 = Instant::now();
    let scenario = synthetic::scenario();
    let state: Vec<Event> = scenario
        .iter()
        .take_while(|e| e.body.name().starts_with("state-"))
        .cloned()
        .collect();
    assert!(state.len() > 3, "the scenario opens with its state");
    for e in &state {
        w.event(e, t0);
    }
    // Far more than the ring holds.
    for e in synthetic::page_storm(50_000) {
        w.event(&e, t0);
    }
    w.trigger(Trigger::Signal, t0);
    let dumped = w.close(false).expect("pending").expect("written");
    let (_, events, _, end) = read(&dumped.path);
    assert_eq!(end, End::Complete);
    assert_eq!(events[..state.len()], state[..]);
    let rest = events.len() - state.len();
    assert!(rest > 100 && rest < 5_000, "{rest} ring events");
}

#[test]
fn post_trigger_events_filling_half_the_ring_dump_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = smallest_window(dir.path());
    let t0 = Instant::now();
    w.event(&stuck(1), t0);
    let mut early = None;
    for e in synthetic::page_storm(10_000) {
        if let Some(d) = w.event(&e, t0) {
            early = Some(d.expect("written"));
            break;
        }
    }
    let dumped = early.expect("dumped before the trigger left the ring");
    let (_, events, ..) = read(&dumped.path);
    assert!(matches!(events[0].body, EventBody::StuckWait(_)));
}

#[test]
fn without_a_trigger_nothing_is_written_unless_asked_at_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = FlightOptions {
        armed: Armed::parse("refused-pin").expect("parses"),
        ..FlightOptions::default()
    };
    let mut w = window(dir.path(), &opts);
    let t0 = Instant::now();
    w.event(&stuck(1), t0);
    assert!(w.tick(t0 + Duration::from_secs(5)).is_none());
    assert!(w.close(false).is_none());
    assert!(dumps_in(dir.path()).is_empty());
    let dumped = w.close(true).expect("exit dump").expect("written");
    assert_eq!(dumped.triggers, vec![Trigger::Exit]);
}

#[test]
fn ring_sizes_parse_with_units_and_absurd_ones_are_refused() {
    assert_eq!(parse_ring_size("64M"), Ok(64 << 20));
    assert_eq!(parse_ring_size("16MiB"), Ok(16 << 20));
    assert_eq!(parse_ring_size("512k"), Ok(512 << 10));
    assert_eq!(parse_ring_size("1G"), Ok(1 << 30));
    assert_eq!(parse_ring_size("65536"), Ok(65536));
    assert!(matches!(parse_ring_size("0"), Err(RingSizeError::Range(_))));
    assert!(matches!(
        parse_ring_size("1K"),
        Err(RingSizeError::Range(_))
    ));
    assert!(matches!(
        parse_ring_size("5G"),
        Err(RingSizeError::Range(_))
    ));
    assert!(matches!(
        parse_ring_size("99999999999999999999G"),
        Err(RingSizeError::Garbage(_))
    ));
    assert!(matches!(
        parse_ring_size("18446744073709551615G"),
        Err(RingSizeError::Range(_))
    ));
    for bad in ["", "M", "64X", "-1M", "1.5M", "lots"] {
        assert!(
            matches!(parse_ring_size(bad), Err(RingSizeError::Garbage(_))),
            "{bad:?}"
        );
    }
}

/// The whole run over the synthetic scenario (which ends in a lost
/// wakeup): the dump it writes is judged a failure naming the stuck wait.
#[tokio::test]
async fn a_run_over_a_lost_wakeup_leaves_a_dump_check_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stream, feed): (EventStream, Feed) = EventStream::channel(synthetic::session());
    for stack in synthetic::stacks() {
        stream.stacks.insert(stack);
    }
    let header = Header::new(stream.info.clone(), Vec::new());
    let source = tokio::spawn(async move {
        feed.send(synthetic::scenario()).await.expect("send");
        feed.end();
    });
    let files = DumpFiles::new(&dir.path().join("flight")).expect("usable");
    let opts = FlightOptions {
        armed: Armed::parse("stuck-wait").expect("parses"),
        ..FlightOptions::default()
    };
    let mut dumped = Vec::new();
    let end = run(
        stream,
        files,
        header,
        &opts,
        DumpRequests::default(),
        std::future::pending(),
        |r| {
            if let Report::Dumped(d) = r {
                dumped.push(d.clone());
            }
        },
    )
    .await;
    source.await.expect("source");
    assert_eq!(end.stopped, Stopped::SourceEnded);
    assert_eq!(end.dumps, 1);
    assert_eq!(dumped.len(), 1);
    let (header, events, _, end) = read(&dumped[0].path);
    assert_eq!(end, End::Complete);
    assert_eq!(header.flight_window(), Some("stuck-wait"));
    let mut collector = Collector::new(CollectorConfig::default());
    for e in &events {
        collector.ingest(e);
    }
    assert!(
        collector.state_at_start().is_some(),
        "the state at start is in it"
    );
    let verdict = check::judge(&collector, &CheckOptions::default(), "dump");
    assert_eq!(verdict.outcome, Outcome::Fail);
    let stuck = verdict
        .assertions
        .iter()
        .find(|a| a.id == "no-stuck-waits")
        .expect("assertion");
    assert_eq!(stuck.status, check::Status::Fail, "{stuck:?}");
}

#[tokio::test]
async fn a_sigusr1_asks_for_a_dump() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (stream, feed) = EventStream::channel(synthetic::session());
    let header = Header::new(stream.info.clone(), Vec::new());
    let stop = stream.stop.clone();
    let requests = DumpRequests::on_sigusr1().expect("handler");
    let source = tokio::spawn(async move {
        feed.send(synthetic::page_storm(100).collect())
            .await
            .expect("send");
        // SAFETY: raise only signals this process, whose SIGUSR1 handler
        // tokio has installed.
        unsafe { libc::raise(libc::SIGUSR1) };
        stop.requested().await;
        feed.end();
    });
    let files = DumpFiles::new(&dir.path().join("flight")).expect("usable");
    let opts = FlightOptions {
        post_trigger: Duration::from_millis(100),
        duration: Some(Duration::from_millis(1500)),
        ..FlightOptions::default()
    };
    let mut triggers = Vec::new();
    let end = run(
        stream,
        files,
        header,
        &opts,
        requests,
        std::future::pending(),
        |r| {
            if let Report::Dumped(d) = r {
                triggers.push(d.triggers.clone());
            }
        },
    )
    .await;
    source.await.expect("source");
    assert_eq!(end.stopped, Stopped::Duration);
    assert_eq!(triggers, vec![vec![Trigger::Signal]]);
    let (header, events, ..) = read(&dir.path().join("flight.0001.dxt"));
    assert_eq!(header.flight_window(), Some("sigusr1"));
    assert_eq!(events.len(), 100);
}
