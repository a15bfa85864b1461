//! `daxtrace serve`: the Prometheus exporter (see docs/serve.md). Binds the
//! port first, then attaches the probes (or opens the replay), drops the
//! capabilities it no longer needs, and serves until SIGINT or SIGTERM.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use dax_trace::serve::{self, HttpLimits, Mode, privileges};
use dax_trace::source::drive::stop_signals;
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::source::replay::{self, ReplayOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address and port to listen on (default: loopback only).
    #[arg(long, value_name = "ADDR:PORT", default_value_t = serve::default_listen())]
    listen: SocketAddr,
    /// Replay a trace file instead of attaching the probes; its final state
    /// is served after the end of the file until stopped.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Keep the owners of this many pinned FS-DAX pages (default 131072,
    /// less when memory is short): the owner table takes about 360 bytes a
    /// page. Past it the least recently pinned pages lose their owners,
    /// which the trace counts (`owner-evicted`).
    #[arg(long, value_name = "PAGES", conflicts_with = "replay", value_parser = super::flags::max_pinned_pages)]
    max_pinned_pages: Option<u32>,
    /// Turn on the kernel's run-time statistics of eBPF programs while
    /// serving (BPF_ENABLE_STATS, kernel 5.8+), so that
    /// `daxtrace_program_runs_total` and `daxtrace_program_run_time_seconds_total`
    /// count. Costs every eBPF program on the machine two clock reads a run.
    #[arg(long, conflicts_with = "replay")]
    program_stats: bool,
    /// Replay speed: 1 is the recorded pace (0.001 to 1000000), 0 as fast
    /// as possible.
    #[arg(long, value_name = "X", default_value = "0", requires = "replay",
          value_parser = super::flags::speed_or_zero)]
    speed: f64,
    /// Most HTTP connections served at once (more are closed on accept).
    #[arg(long, value_name = "N", default_value_t = HttpLimits::default().max_connections)]
    max_connections: usize,
    #[command(flatten)]
    require: super::require::Require,
}

/// Runtime worker threads.
const WORKERS: usize = 2;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.max_connections == 0 {
        bail!("--max-connections must be at least 1");
    }
    let live = args.replay.is_none();
    // Bound before anything starts: a taken port fails here, with no probe attached.
    let listener = serve::bind(args.listen)?;
    let bound = listener
        .local_addr()
        .context("reading the listening address")?;
    let keep = privileges::kept_for(live);
    let thread_keep = keep.clone();
    let dropped_threads = Arc::new(AtomicUsize::new(0));
    let counted = dropped_threads.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name("daxtrace-serve")
        .on_thread_start(move || {
            // Runtime threads never attach anything: drop at once.
            if let Err(err) = privileges::drop_to(&thread_keep) {
                log::warn!("dropping capabilities on a runtime thread: {err}");
            }
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The workers drop on their own threads, whenever the scheduler first
    // runs them: wait for them, so that no thread holds more than the kept
    // set once serving is announced.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while dropped_threads.load(Ordering::SeqCst) < WORKERS {
        if std::time::Instant::now() > deadline {
            bail!("the runtime's threads did not start within 10 s");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (stream, mode) = {
        let _entered = runtime.enter();
        match &args.replay {
            Some(path) => {
                let opts = ReplayOptions {
                    speed: (args.speed > 0.0).then_some(args.speed),
                };
                let stream = replay::start(path, opts)
                    .with_context(|| format!("replaying {}", path.display()))?;
                (stream, Mode::Replay)
            }
            None => {
                let stream = live::start(&LiveOptions {
                    max_pinned_pages: args.max_pinned_pages,
                    ..LiveOptions::default()
                })
                .context("starting live capture (or use --replay FILE)")?;
                args.require.check(&stream.info.probes)?;
                (stream, Mode::Live)
            }
        }
    };
    // Needs CAP_SYS_ADMIN: before the drop. Held until serve exits.
    let _program_stats = if args.program_stats {
        Some(
            dax_trace::source::program_costs::enable_stats()
                .context("turning on eBPF run-time statistics (--program-stats)")?,
        )
    } else {
        None
    };
    let dropped = privileges::drop_to(&keep).context("dropping capabilities after attaching")?;
    log::info!(
        "capabilities dropped: effective was [{}], now [{}]",
        dropped.effective_before.join(", "),
        dropped.effective_after.join(", ")
    );
    eprintln!(
        "daxtrace serve: capabilities now [{}]; serving http://{}/metrics",
        dropped.effective_after.join(", "),
        bound
    );
    let limits = HttpLimits {
        max_connections: args.max_connections,
        ..HttpLimits::default()
    };
    let server = {
        let _entered = runtime.enter();
        let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
        let stop = async move {
            stop.await;
        };
        let (_shared, server) = serve::spawn(listener, stream, mode, limits, stop)?;
        server
    };
    runtime
        .block_on(server)
        .context("the HTTP server task failed")?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}
