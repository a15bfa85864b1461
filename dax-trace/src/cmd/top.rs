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
    /// Replay speed: 1 is the recorded pace, 10 ten times faster, 0 as fast as possible.
    #[arg(long, value_name = "X", default_value_t = 1.0, requires = "replay")]
    speed: f64,
    /// Print plain text frames on stdout (like `top -b`) instead of the screen.
    #[arg(long)]
    batch: bool,
    /// With --batch: stop after N frames (default: until the source ends or Ctrl-C).
    #[arg(long, value_name = "N", requires = "batch")]
    iterations: Option<u64>,
    /// Seconds between screen refreshes or batch frames.
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    interval: f64,
    #[command(flatten)]
    require: super::require::Require,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        bail!("--interval must be a positive number of seconds");
    }
    if !(args.speed.is_finite() && args.speed >= 0.0) {
        bail!("--speed must be 0 (as fast as possible) or a positive factor");
    }
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
    } = stream;
    let mut dash = Dashboard::new(Collector::default(), info, clock);
    dash.set_stacks(stacks);
    if let Some(mut end) = end {
        dash.set_end_note(move || end.try_recv().ok().map(|end| end.to_string()));
    }
    let interval = Duration::from_secs_f64(args.interval);
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
            args.require.check(&stream.info.probes)?;
            Ok((stream, Clock::Monotonic, None))
        }
    }
}

/// Sets `stop` on SIGINT or SIGTERM, so the dashboard restores the terminal
/// and batch mode ends after its current frame.
async fn stop_on_signals(stop: Arc<AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        log::warn!("cannot catch SIGINT/SIGTERM; Ctrl-C will not restore the terminal");
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    stop.store(true, Ordering::Relaxed);
}
