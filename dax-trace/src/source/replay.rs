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

use tokio::sync::{mpsc, oneshot};

use super::{CHANNEL_CAPACITY, EventStream};
use crate::event::Event;
use crate::session::SourceKind;
use crate::trace::{End, Reader, Record, TraceError};

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
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (end_tx, end_rx) = oneshot::channel();
    let speed = opts.speed.filter(|s| *s > 0.0 && s.is_finite());
    tokio::spawn(async move {
        let end = feed(reader, &tx, speed).await;
        match &end {
            End::Complete => log::debug!("replay complete"),
            other => log::warn!("replay stopped early: the trace is {other}"),
        }
        // The receiver may be gone; nobody then wants to know.
        let _ = end_tx.send(end);
    });
    Ok((EventStream { info, events: rx }, end_rx))
}

/// Events read ahead and sent under one channel reservation when replaying
/// as fast as possible: one semaphore operation per batch, not per event.
const FEED_BATCH: usize = 256;

/// Sends every event of `reader` into `tx`; returns how the file ended.
async fn feed<R: Read>(mut reader: Reader<R>, tx: &mpsc::Sender<Event>, speed: Option<f64>) -> End {
    let mut pacer = speed.map(Pacer::new);
    let batch_len = if pacer.is_some() { 1 } else { FEED_BATCH };
    let mut batch = Vec::with_capacity(batch_len);
    let mut more = true;
    while more {
        while batch.len() < batch_len {
            match reader.next_record() {
                Ok(Some(Record::Event(event))) => batch.push(event),
                Ok(Some(Record::Summary(_))) => {}
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
        let Ok(permits) = tx.reserve_many(batch.len()).await else {
            // The consumer stopped listening: not an error of the file.
            return End::Complete;
        };
        for (permit, event) in permits.zip(batch.drain(..)) {
            permit.send(event);
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
        let due = Duration::from_secs_f64(ts_ns.saturating_sub(first) as f64 / 1e9 / self.speed);
        if due > self.start.elapsed() {
            tokio::time::sleep_until(self.start + due).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{Header, Writer, synthetic};
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
        while let Some(e) = stream.events.recv().await {
            out.push(e);
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
    }

    #[tokio::test]
    async fn a_truncated_file_replays_what_it_has_and_says_so() {
        let events = synthetic::scenario();
        let reader = Reader::new(Cursor::new(trace(&events, false))).expect("opens");
        let (mut stream, end) = spawn(reader, "t.dxt", ReplayOptions::default()).expect("starts");
        assert_eq!(drain(&mut stream).await, events);
        assert!(matches!(end.await.expect("end"), End::Truncated { .. }));
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

    #[tokio::test]
    async fn a_missing_file_fails_before_streaming() {
        let err = start("/nonexistent/t.dxt", ReplayOptions::default()).err();
        assert!(matches!(err, Some(TraceError::Open { .. })), "{err:?}");
    }
}
