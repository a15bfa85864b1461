//! `daxtrace top`: the live dashboard, or the same screens over a trace file
//! (`--replay`), interactive or as plain text frames (`--batch`).
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use dax_trace::source::EventStream;
use dax_trace::source::drive::stop_signals;
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::source::replay::{self, ReplayOptions};
use dax_trace::trace::End;
use dax_trace::tui::batch::{self, BatchOptions};
use dax_trace::tui::dashboard::{Clock, Dashboard};
use dax_trace::tui::interactive;

use dax_trace::collector::Collector;
use tokio::sync::oneshot;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Replay a trace file instead of attaching the probes (no root needed).
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
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
    } = stream;
    let mut dash = Dashboard::new(Collector::default(), info, clock);
    dash.set_stacks(stacks);
    // Asked once the stream is closed: a failed source says why, a replay
    // how its file ended.
    let mut end = end;
    dash.set_end_note(move || match ended.failure() {
        Some(reason) => Some(format!("source failed: {reason}")),
        None => end.as_mut()?.try_recv().ok().map(|end| end.to_string()),
    });
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
            let stream = live::start(&LiveOptions::default())
                .context("starting live capture (or use --replay FILE)")?;
            Ok((stream, Clock::Monotonic, None))
        }
    }
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
