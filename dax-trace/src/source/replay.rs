//! Replay: a trace file as an [`EventStream`], so everything that consumes
//! live capture (collector, TUI, check) works on recordings unchanged.
//!
//! A tokio task reads the file and feeds the channel; a full channel makes it
//! wait, so a slow consumer paces the reader and the file is never buffered
//! in memory. Reads are plain blocking reads of a large buffer: from the page
//! cache they take microseconds, and keeping producer and consumer on the
//! same runtime lets them hand over without waking threads for every event
//! (a separate thread with `blocking_send` was several times slower). The stream ends when the file does; how it
//! ended (complete, truncated, corrupt) is logged and, with
//! [`start_with_end`], handed to the caller.
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{BATCH_MAX, EventStream, Feed};
use crate::collector::{Collector, CollectorConfig};
use crate::session::SourceKind;
use crate::stacks::StackTable;
use crate::trace::{End, Header, Reader, Record, TraceError};

/// How to replay.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReplayOptions {
    /// `None`: as fast as the consumer takes events. `Some(s)`: honour the
    /// recorded gaps between events divided by `s` (1.0 = real time).
    pub speed: Option<f64>,
}

/// Opens `path` and starts replaying it (from within a tokio runtime). Errors (missing file, not a trace,
/// damaged header) are reported here, before any event is sent.
pub fn start(path: impl AsRef<Path>, opts: ReplayOptions) -> Result<EventStream, TraceError> {
    start_with_end(path, opts).map(|(stream, _end)| stream)
}

/// Like [`start`], and also returns how reading the file ended, available
/// once the last event has been sent.
pub fn start_with_end(
    path: impl AsRef<Path>,
    opts: ReplayOptions,
) -> Result<(EventStream, oneshot::Receiver<End>), TraceError> {
    let path = path.as_ref();
    let reader = Reader::open(path)?;
    spawn(reader, &path.display().to_string(), opts)
}

/// Replays an opened reader (any byte source) as an [`EventStream`] whose
/// source is `Replay { path }`.
/// Must be called from within a tokio runtime.
pub fn spawn<R: Read + Send + 'static>(
    reader: Reader<R>,
    path: &str,
    opts: ReplayOptions,
) -> Result<(EventStream, oneshot::Receiver<End>), TraceError> {
    let mut info = reader.header().session.clone();
    info.source = SourceKind::Replay {
        path: path.to_string(),
    };
    let (stream, tx) = EventStream::channel(info);
    let stacks = stream.stacks.clone();
    let stop = stream.stop.clone();
    let (end_tx, end_rx) = oneshot::channel();
    let speed = opts.speed.filter(|s| *s > 0.0 && s.is_finite());
    let path = path.to_string();
    tokio::spawn(async move {
        let end = tokio::select! {
            biased;
            // The consumer is done: nothing of the file is owed to it.
            () = stop.requested() => End::Complete,
            end = feed(reader, &tx, &stacks, speed) => end,
        };
        match &end {
            End::Complete => {
                log::debug!("replay complete");
                tx.end();
            }
            // The events after the damage are unknown: a consumer must not
            // take this for the end of the trace. It tells the user (record's
            // error, check's verdict, report's and top's header): logged
            // here only for detail.
            other => {
                log::info!("replay stopped early: the trace is {other}");
                tx.fail(format!("{path} is {other}"));
            }
        }
        // The receiver may be gone; nobody then wants to know.
        let _ = end_tx.send(end);
    });
    Ok((stream, end_rx))
}

/// A trace file folded into a collector.
pub struct Folded {
    pub header: Header,
    pub collector: Collector,
    /// The kernel stacks the trace's events name.
    pub stacks: StackTable,
    /// How the file ended (complete, truncated, corrupt).
    pub end: End,
}

/// Replays `path` into a new collector as fast as it can be read (what
/// `report FILE` and `check FILE` do). The file is read and decoded on a
/// runtime thread while the calling thread folds, so the halves overlap.
///
/// A file that cannot be opened or is not a trace is an error; a damaged
/// tail is not (every complete record is folded and `end` says where
/// reading stopped). Blocks: call it outside any async context.
pub fn fold(path: impl AsRef<Path>, config: CollectorConfig) -> Result<Folded, TraceError> {
    let path = path.as_ref();
    let reader = Reader::open(path)?;
    let header = reader.header().clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("daxtrace-read")
        .build()
        .map_err(TraceError::Thread)?;
    let (mut stream, end) = {
        let _entered = runtime.enter();
        spawn(
            reader,
            &path.display().to_string(),
            ReplayOptions::default(),
        )?
    };
    let mut collector = Collector::new(config);
    while let Some(batch) = stream.events.blocking_recv() {
        for event in &batch {
            collector.ingest(event);
        }
    }
    let end = end.blocking_recv().unwrap_or_else(|_| End::Unreadable {
        offset: 0,
        reason: "the reading task ended without saying how the file ended".to_string(),
    });
    Ok(Folded {
        header,
        collector,
        stacks: stream.stacks,
        end,
    })
}

/// Sends every event of `reader` into `tx`; returns how the file ended.
///
/// As fast as possible, events go in batches of [`BATCH_MAX`]; paced, one
/// at a time, each when it is due.
async fn feed<R: Read>(
    mut reader: Reader<R>,
    tx: &Feed,
    stacks: &StackTable,
    speed: Option<f64>,
) -> End {
    let mut pacer = speed.map(Pacer::new);
    let batch_len = if pacer.is_some() { 1 } else { BATCH_MAX };
    let mut more = true;
    while more {
        let mut batch = Vec::with_capacity(batch_len);
        while batch.len() < batch_len {
            match reader.next_record() {
                Ok(Some(Record::Event(event))) => batch.push(event),
                // A stack is written before the first event naming it: in
                // the table before that event is sent.
                Ok(Some(Record::Stack(stack))) => stacks.insert(stack),
                // State records are reserved (never written).
                Ok(Some(Record::Summary(_) | Record::State(_))) => {}
                Ok(None) | Err(_) => {
                    more = false;
                    break;
                }
            }
        }
        if batch.is_empty() {
            break;
        }
        if let (Some(p), Some(event)) = (pacer.as_mut(), batch.first()) {
            p.wait_for(event.ts_ns).await;
        }
        if tx.send(batch).await.is_err() {
            // The consumer stopped listening: not an error of the file.
            return End::Complete;
        }
    }
    reader.end().cloned().unwrap_or(End::Complete)
}

/// Sleeps so that events leave at their recorded pace divided by `speed`.
struct Pacer {
    speed: f64,
    start: tokio::time::Instant,
    first_ts_ns: Option<u64>,
}

impl Pacer {
    fn new(speed: f64) -> Self {
        Self {
            speed,
            start: tokio::time::Instant::now(),
            first_ts_ns: None,
        }
    }

    async fn wait_for(&mut self, ts_ns: u64) {
        let first = *self.first_ts_ns.get_or_insert(ts_ns);
        let secs = ts_ns.saturating_sub(first) as f64 / 1e9 / self.speed;
        // Due beyond what a clock can say (a speed near 0): only a stop
        // ends the wait.
        let Some(at) = Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|due| self.start.checked_add(due))
        else {
            return std::future::pending().await;
        };
        if at > tokio::time::Instant::now() {
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::testkit::synthetic;
    use crate::trace::{Header, Writer};
    use std::io::Cursor;

    fn trace(events: &[Event], finish: bool) -> Vec<u8> {
        let header = Header::new(synthetic::session(), Vec::new());
        let mut w = Writer::new(Vec::new(), &header).expect("header");
        for e in events {
            w.write_event(e).expect("event");
        }
        if finish {
            w.finish("duration").expect("finish").1
        } else {
            w.flush().expect("flush");
            std::mem::take(w.get_mut())
        }
    }

    async fn drain(stream: &mut EventStream) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(batch) = stream.events.recv().await {
            assert!(!batch.is_empty() && batch.len() <= BATCH_MAX);
            out.extend(batch);
        }
        out
    }

    #[tokio::test]
    async fn replays_every_event_with_the_recorded_session() {
        let events = synthetic::scenario();
        let reader = Reader::new(Cursor::new(trace(&events, true))).expect("opens");
        let (mut stream, end) = spawn(reader, "t.dxt", ReplayOptions::default()).expect("starts");
        assert_eq!(
            stream.info.source,
            SourceKind::Replay {
                path: "t.dxt".into()
            }
        );
        assert_eq!(stream.info.kernel_release, synthetic::KERNEL_RELEASE);
        assert_eq!(drain(&mut stream).await, events);
        assert_eq!(end.await.expect("end reported"), End::Complete);
        assert_eq!(stream.ended.failure(), None);
    }

    #[tokio::test]
    async fn a_long_trace_arrives_whole_and_in_order_across_batches() {
        let events: Vec<Event> = synthetic::page_storm(3 * BATCH_MAX as u64 + 5).collect();
        let reader = Reader::new(Cursor::new(trace(&events, true))).expect("opens");
        let (mut stream, end) = spawn(reader, "t.dxt", ReplayOptions::default()).expect("starts");
        assert_eq!(drain(&mut stream).await, events);
        assert_eq!(end.await.expect("end reported"), End::Complete);
    }

    #[tokio::test]
    async fn a_truncated_file_replays_what_it_has_and_says_so() {
        let events = synthetic::scenario();
        let reader = Reader::new(Cursor::new(trace(&events, false))).expect("opens");
        let (mut stream, end) = spawn(reader, "t.dxt", ReplayOptions::default()).expect("starts");
        assert_eq!(drain(&mut stream).await, events);
        assert!(matches!(end.await.expect("end"), End::Truncated { .. }));
        // A cut file is no end of trace for the consumer either.
        let failure = stream.ended.failure().expect("the source failed");
        assert!(failure.contains("t.dxt is truncated"), "{failure}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_speed_near_zero_waits_instead_of_panicking() {
        let mut events = synthetic::scenario()[..2].to_vec();
        events[1].ts_ns = events[0].ts_ns + 1;
        let reader = Reader::new(Cursor::new(trace(&events, true))).expect("opens");
        let opts = ReplayOptions {
            speed: Some(1e-300),
        };
        let (mut stream, end) = spawn(reader, "t.dxt", opts).expect("starts");
        assert_eq!(
            stream.events.recv().await.expect("the first event"),
            events[..1]
        );
        assert!(stream.finish().await.is_empty());
        assert_eq!(end.await.expect("end reported"), End::Complete);
        assert_eq!(stream.ended.failure(), None);
    }

    #[tokio::test]
    async fn speed_scales_the_recorded_gaps() {
        // Two events 200 ms apart at 4x take about 50 ms; as fast as possible, far less.
        let mut events = synthetic::scenario()[..2].to_vec();
        events[1].ts_ns = events[0].ts_ns + 200_000_000;
        let bytes = trace(&events, true);
        let started = std::time::Instant::now();
        let reader = Reader::new(Cursor::new(bytes)).expect("opens");
        let opts = ReplayOptions { speed: Some(4.0) };
        let (mut stream, _) = spawn(reader, "t.dxt", opts).expect("starts");
        assert_eq!(drain(&mut stream).await.len(), 2);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_request_ends_a_paced_replay_at_once() {
        // An hour between two events at 1x: only the stop can end it soon.
        let mut events = synthetic::scenario()[..2].to_vec();
        events[1].ts_ns = events[0].ts_ns + 3_600_000_000_000;
        let reader = Reader::new(Cursor::new(trace(&events, true))).expect("opens");
        let opts = ReplayOptions { speed: Some(1.0) };
        let (mut stream, end) = spawn(reader, "t.dxt", opts).expect("starts");
        let first = stream.events.recv().await.expect("the first event");
        assert_eq!(first, events[..1]);
        let began = tokio::time::Instant::now();
        assert!(stream.finish().await.is_empty());
        assert!(began.elapsed() < crate::source::FINISH_GRACE);
        assert_eq!(end.await.expect("end reported"), End::Complete);
    }

    #[test]
    fn fold_uses_every_event_and_reports_the_end() {
        let events: Vec<Event> = synthetic::page_storm(2 * BATCH_MAX as u64 + 3).collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.dxt");
        std::fs::write(&path, trace(&events, true)).expect("writes");
        let folded = fold(&path, CollectorConfig::default()).expect("folds");
        assert_eq!(folded.collector.totals().events, events.len() as u64);
        assert_eq!(folded.end, End::Complete);
        assert_eq!(folded.header.session, synthetic::session());

        let cut = trace(&events, false);
        std::fs::write(&path, &cut[..cut.len() - 3]).expect("writes");
        let folded = fold(&path, CollectorConfig::default()).expect("folds");
        assert_eq!(folded.collector.totals().events, events.len() as u64 - 1);
        assert!(
            matches!(folded.end, End::Truncated { .. }),
            "{:?}",
            folded.end
        );
    }

    #[test]
    fn fold_refuses_what_is_not_a_trace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.dxt");
        std::fs::write(&path, b"hello").expect("writes");
        assert!(matches!(
            fold(&path, CollectorConfig::default()),
            Err(TraceError::NotATrace)
        ));
    }

    #[tokio::test]
    async fn a_missing_file_fails_before_streaming() {
        let err = start("/nonexistent/t.dxt", ReplayOptions::default()).err();
        assert!(matches!(err, Some(TraceError::Open { .. })), "{err:?}");
    }
}
