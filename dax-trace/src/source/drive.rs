//! The one run loop over an [`EventStream`], shared by every front end
//! that drains a stream until something stops it (`record`, `check
//! --duration`, `probes --listen`): a duration, a stop signal (SIGINT or
//! SIGTERM, [`stop_signals`], which `top` and `serve` use too), or the end
//! of the stream. Then the stream is finished (what the source still holds
//! is handed over) and the caller learns why it stopped, a failed source
//! included, so no front end takes a dead source for the end of a trace.
use std::future::Future;
use std::time::Duration;

use super::EventStream;
use crate::event::Event;

/// What a front end does with the stream.
pub trait Sink {
    type Error;
    /// Takes a batch of events (never empty).
    fn batch(&mut self, events: &[Event]) -> Result<(), Self::Error>;
    /// Runs every [`DriveOptions::tick`] (flushing, progress).
    fn tick(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// How long to drive and how often to tick.
#[derive(Clone, Copy, Debug, Default)]
pub struct DriveOptions {
    /// Stop after this long; `None`: until a stop or the end of the stream.
    pub duration: Option<Duration>,
    /// Call [`Sink::tick`] this often; `None`: never.
    pub tick: Option<Duration>,
}

/// Why driving stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The duration elapsed.
    Duration,
    /// The stop future resolved, to this reason (`interrupted`,
    /// `terminated`).
    Signal(&'static str),
    /// The source ended its stream normally (the end of a replayed file).
    SourceEnded,
    /// The source failed (a panic, an I/O error, a damaged file): what was
    /// received is incomplete.
    SourceFailed(String),
}

impl Stopped {
    /// The reason as a trace summary records it.
    pub fn reason(&self) -> &str {
        match self {
            Stopped::Duration => "duration",
            Stopped::Signal(reason) => reason,
            Stopped::SourceEnded => "source-ended",
            Stopped::SourceFailed(_) => "source-failed",
        }
    }
}

/// Hands every batch of `stream` to `sink` until `opts.duration` elapses,
/// `stop` resolves or the stream ends, then finishes the stream (its last
/// batches go to `sink` too). A source that failed, before or while
/// finishing, makes it [`Stopped::SourceFailed`]. A sink error ends it at
/// once.
pub async fn drive<S: Sink>(
    stream: &mut EventStream,
    opts: &DriveOptions,
    stop: impl Future<Output = &'static str>,
    sink: &mut S,
) -> Result<Stopped, S::Error> {
    let deadline = async {
        match opts.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let mut tick = opts.tick.map(|every| {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick
    });
    tokio::pin!(stop, deadline);
    let stopped = loop {
        tokio::select! {
            biased;
            reason = &mut stop => break Stopped::Signal(reason),
            () = &mut deadline => break Stopped::Duration,
            _ = next_tick(&mut tick) => sink.tick()?,
            batch = stream.events.recv() => match batch {
                Some(batch) => sink.batch(&batch)?,
                None => break Stopped::SourceEnded,
            }
        }
    };
    // What the source still holds (queued, or in the kernel's ring buffer)
    // belongs to the run.
    for batch in stream.finish().await {
        sink.batch(&batch)?;
    }
    Ok(match stream.ended.failure() {
        Some(reason) => Stopped::SourceFailed(reason),
        None => stopped,
    })
}

async fn next_tick(tick: &mut Option<tokio::time::Interval>) {
    match tick {
        Some(tick) => {
            tick.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Resolves on the first SIGINT (`"interrupted"`) or SIGTERM
/// (`"terminated"`): the stop of every front end, so that `timeout`,
/// systemd and Kubernetes stop daxtrace as cleanly as Ctrl-C does. Must be
/// called within a tokio runtime; the handlers are installed at once.
pub fn stop_signals() -> std::io::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => "interrupted",
            _ = term.recv() => "terminated",
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::synthetic;

    #[derive(Default)]
    struct Count {
        events: usize,
        ticks: usize,
    }

    impl Sink for Count {
        type Error = std::convert::Infallible;
        fn batch(&mut self, events: &[Event]) -> Result<(), Self::Error> {
            self.events += events.len();
            Ok(())
        }
        fn tick(&mut self) -> Result<(), Self::Error> {
            self.ticks += 1;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_normal_end_of_the_source_is_source_ended() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        let events = synthetic::scenario();
        tx.send(events.clone()).await.expect("send");
        tx.end();
        let mut sink = Count::default();
        let stopped = drive(
            &mut stream,
            &DriveOptions::default(),
            std::future::pending(),
            &mut sink,
        )
        .await
        .expect("drives");
        assert_eq!(stopped, Stopped::SourceEnded);
        assert_eq!(sink.events, events.len());
    }

    #[tokio::test]
    async fn a_source_that_dies_is_a_failure_not_an_end() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        let events = synthetic::scenario();
        let source = tokio::spawn(async move {
            tx.send(events).await.expect("send");
            panic!("the replay thread broke");
        });
        let mut sink = Count::default();
        let stopped = drive(
            &mut stream,
            &DriveOptions::default(),
            std::future::pending(),
            &mut sink,
        )
        .await
        .expect("drives");
        assert!(source.await.is_err());
        assert!(matches!(stopped, Stopped::SourceFailed(_)), "{stopped:?}");
        assert_eq!(stopped.reason(), "source-failed");
    }

    #[tokio::test]
    async fn a_stop_keeps_what_the_source_sends_last() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        let stop = stream.stop.clone();
        let events = synthetic::scenario();
        let last = events.clone();
        let source = tokio::spawn(async move {
            stop.requested().await;
            tx.send(last).await.expect("send the last events");
            tx.end();
        });
        let mut sink = Count::default();
        let stopped = drive(
            &mut stream,
            &DriveOptions::default(),
            async { "terminated" },
            &mut sink,
        )
        .await
        .expect("drives");
        source.await.expect("source");
        assert_eq!(stopped, Stopped::Signal("terminated"));
        assert_eq!(sink.events, events.len());
    }

    #[tokio::test(start_paused = true)]
    async fn the_duration_ends_it_and_ticks_come_on_time() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        let stop = stream.stop.clone();
        let source = tokio::spawn(async move {
            stop.requested().await;
            tx.end();
        });
        let opts = DriveOptions {
            duration: Some(Duration::from_millis(3500)),
            tick: Some(Duration::from_secs(1)),
        };
        let mut sink = Count::default();
        let stopped = drive(&mut stream, &opts, std::future::pending(), &mut sink)
            .await
            .expect("drives");
        source.await.expect("source");
        assert_eq!(stopped, Stopped::Duration);
        assert_eq!(sink.ticks, 3);
    }

    #[tokio::test]
    async fn sigterm_stops_a_drive() {
        let (mut stream, tx) = EventStream::channel(synthetic::session());
        let stop = stream.stop.clone();
        let source = tokio::spawn(async move {
            stop.requested().await;
            tx.end();
        });
        let signals = stop_signals().expect("handlers");
        // SAFETY: raise only sends a signal to this process, whose handler
        // tokio has just installed.
        unsafe { libc::raise(libc::SIGTERM) };
        let mut sink = Count::default();
        let stopped = drive(&mut stream, &DriveOptions::default(), signals, &mut sink)
            .await
            .expect("drives");
        source.await.expect("source");
        assert_eq!(stopped, Stopped::Signal("terminated"));
    }
}
