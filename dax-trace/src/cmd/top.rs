//! `daxtrace top`: the live dashboard, or the same screens over a trace file
//! (`--replay`), interactive or as plain text frames (`--batch`).
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use dax_trace::source::drive::stop_signals;
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::source::{EventStream, SourceEnd};
use dax_trace::trace::End;
use dax_trace::tui::run::dashboard::{Clock, Dashboard};
use dax_trace::tui::run::interactive;
use dax_trace::tui::ui::batch::{self, BatchOptions};

use dax_trace::collector::Collector;
use tokio::sync::oneshot;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Replay a trace file instead of attaching the probes (no root needed).
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Keep the owners of this many pinned FS-DAX pages (default 131072,
    /// less when memory is short): the owner table takes about 360 bytes a
    /// page. Past it the least recently pinned pages lose their owners,
    /// which the trace counts (`owner-evicted`).
    #[arg(long, value_name = "PAGES", conflicts_with = "replay", value_parser = super::flags::max_pinned_pages)]
    max_pinned_pages: Option<u32>,
    /// Replay speed: 1 is the recorded pace, 10 ten times faster (0.001 to
    /// 1000000), 0 as fast as possible.
    #[arg(long, value_name = "X", default_value = "1", requires = "replay",
          value_parser = super::flags::speed_or_zero)]
    speed: f64,
    /// Print plain text frames on stdout (like `top -b`) instead of the screen.
    #[arg(long)]
    batch: bool,
    /// With --batch: stop after N frames (default: until the source ends or Ctrl-C).
    #[arg(long, value_name = "N", requires = "batch")]
    iterations: Option<u64>,
    /// Time between screen refreshes or batch frames (200ms, 2s; a bare
    /// number is seconds), from 10ms to 1h.
    #[arg(long, value_name = "D", default_value = "1s", value_parser = super::flags::interval)]
    interval: Duration,
    /// Event times: rel (since the first event), mono (since boot), wall (UTC).
    #[arg(long, value_enum, default_value_t = dax_trace::human::time::TimeBase::Rel)]
    time: dax_trace::human::time::TimeBase,
    #[command(flatten)]
    require: super::require::Require,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.batch && !std::io::stdout().is_terminal() {
        bail!("stdout is not a terminal: use --batch for text output");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(stop_on_signals(Arc::clone(&stop)));
    let (stream, clock, end) = {
        let _entered = runtime.enter();
        start_source(&args)?
    };
    let EventStream {
        info,
        events,
        stacks,
        stop: _,
        ended,
        programs: _,
    } = stream;
    let mut dash = Dashboard::new(Collector::default(), info, clock);
    dash.set_time(args.time);
    dash.set_stacks(stacks);
    let mut end = end;
    dash.set_end_note(move || end_note(&ended, &mut end));
    let interval = args.interval;
    if args.batch {
        let opts = BatchOptions {
            iterations: args.iterations,
            interval,
        };
        batch::run(dash, events, opts, &mut std::io::stdout().lock(), &stop)?;
    } else {
        // Log lines would scribble over the screen; how a replay ended is
        // shown in the header instead.
        let level = log::max_level();
        log::set_max_level(log::LevelFilter::Off);
        let result = interactive::run(dash, events, interval, &stop);
        log::set_max_level(level);
        result?;
    }
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

/// The event source asked for, the clock its ages are measured on, and for a
/// replay, how reading the file ended.
fn start_source(
    args: &Args,
) -> anyhow::Result<(EventStream, Clock, Option<oneshot::Receiver<End>>)> {
    match &args.replay {
        Some(path) => {
            let opts = ReplayOptions {
                speed: (args.speed > 0.0).then_some(args.speed),
            };
            let (stream, end) = replay::start_with_end(path, opts)
                .with_context(|| format!("replaying {}", path.display()))?;
            Ok((stream, Clock::Trace, Some(end)))
        }
        None => {
            let stream = live::start(&LiveOptions {
                max_pinned_pages: args.max_pinned_pages,
                ..LiveOptions::default()
            })
            .context("starting live capture (or use --replay FILE)")?;
            args.require.check(&stream.info.probes)?;
            Ok((stream, Clock::Monotonic, None))
        }
    }
}

/// What the header says once the stream is closed (`None`: not known yet,
/// ask again): how a replayed file ended (`truncated at byte ...`), or why
/// a source failed when there is no file to say it (live capture, or a
/// replay task that died).
fn end_note(ended: &SourceEnd, end: &mut Option<oneshot::Receiver<End>>) -> Option<String> {
    if let Some(rx) = end.as_mut() {
        match rx.try_recv() {
            Ok(end) => return Some(end.to_string()),
            Err(oneshot::error::TryRecvError::Empty) => return None,
            Err(oneshot::error::TryRecvError::Closed) => {}
        }
    }
    ended
        .failure()
        .map(|reason| format!("source failed: {reason}"))
}

/// Sets `stop` on SIGINT or SIGTERM, so the dashboard restores the terminal
/// and batch mode ends after its current frame.
async fn stop_on_signals(stop: Arc<AtomicBool>) {
    match stop_signals() {
        Ok(signals) => {
            signals.await;
            stop.store(true, Ordering::Relaxed);
        }
        Err(err) => {
            log::warn!("cannot catch SIGINT/SIGTERM ({err}); Ctrl-C will not restore the terminal");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dax_trace::testkit::synthetic;

    #[test]
    fn a_failed_live_source_is_named_in_the_header() {
        let (stream, feed) = EventStream::channel(synthetic::session());
        assert_eq!(end_note(&stream.ended, &mut None), None);
        feed.fail("polling the ring buffer failed: EIO");
        assert_eq!(
            end_note(&stream.ended, &mut None).as_deref(),
            Some("source failed: polling the ring buffer failed: EIO")
        );
    }

    #[test]
    fn a_replay_says_how_its_file_ended_or_that_its_reader_died() {
        let (stream, feed) = EventStream::channel(synthetic::session());
        let (tx, rx) = oneshot::channel();
        let mut end = Some(rx);
        assert_eq!(end_note(&stream.ended, &mut end), None, "not ended yet");
        tx.send(End::Complete).expect("send");
        assert_eq!(
            end_note(&stream.ended, &mut end).as_deref(),
            Some("complete")
        );

        // The reading task died (a panic): no End comes, the failure shows.
        let (tx, rx) = oneshot::channel::<End>();
        drop(tx);
        drop(feed);
        let note = end_note(&stream.ended, &mut Some(rx)).expect("a note");
        assert!(note.starts_with("source failed: "), "{note}");
    }
}
