//! `daxtrace why PID|TID|PATH`: attach, read the state at start, watch a
//! few seconds, and say what the target's waiters sleep on and whether they
//! moved. Exit codes (docs/why.md): 0 moving (or not waiting), 1 stuck, 3
//! usage or input error.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use dax_trace::collector::Collector;
use dax_trace::event::Event;
use dax_trace::source::drive::{DriveOptions, Sink, drive, stop_signals};
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::why::{self, Target, WatchLog};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A PID (all its threads), a TID, or a path: a file (its waiters) or
    /// a mount point (every waiter on its filesystem).
    #[arg(value_name = "PID|TID|PATH")]
    target: String,
    /// How long to watch after attaching, so that a pin taken or released
    /// meanwhile is seen (1s, 10s).
    #[arg(long, value_name = "D", default_value = "5s", value_parser = super::flags::capture)]
    watch: Duration,
    /// Where /proc is (for a container that mounts the host's elsewhere).
    #[arg(long, value_name = "DIR", default_value = "/proc", hide = true)]
    proc_root: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let target = Target::resolve(&args.target, &args.proc_root)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (why, stacks, watched_ns) = runtime.block_on(async {
        let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
        let mut stream = live::start(&LiveOptions::default()).context("starting live capture")?;
        let idle_refcount = stream
            .info
            .probes
            .offsets
            .iter()
            .find(|(k, _)| k == "idle_refcount")
            .map_or(1, |(_, v)| *v as u32);
        eprintln!(
            "daxtrace why: watching for {}",
            dax_trace::human::duration(args.watch.as_nanos() as u64)
        );
        let mut sink = Watching::default();
        let opts = DriveOptions {
            duration: Some(args.watch),
            tick: None,
        };
        drive(&mut stream, &opts, stop, &mut sink).await?;
        let first = sink.collector.totals().first_ts_ns.unwrap_or(0);
        // The events' span, or the watch itself when nothing happened.
        let watched_ns = sink
            .collector
            .totals()
            .last_ts_ns
            .saturating_sub(first)
            .max(args.watch.as_nanos() as u64);
        let why = why::diagnose(&sink.collector, &sink.log, &target, idle_refcount);
        anyhow::Ok((why, stream.stacks.clone(), watched_ns))
    })?;
    let suspects = if why.stuck() {
        let me = std::process::id();
        let mut s = why::suspects(&args.proc_root, me);
        s.extend(why::pipe_holders(&args.proc_root, me));
        s
    } else {
        Vec::new()
    };
    super::stdout::print(why::render::text(&why, &suspects, &stacks, watched_ns))?;
    Ok(ExitCode::from(u8::from(why.stuck())))
}

/// Folds every event, and notes the waits' progress.
#[derive(Default)]
struct Watching {
    collector: Collector,
    log: WatchLog,
}

impl Sink for Watching {
    type Error = std::convert::Infallible;

    fn batch(&mut self, events: &[Event]) -> Result<(), Self::Error> {
        for ev in events {
            self.collector.ingest(ev);
            self.log.observe(ev);
        }
        Ok(())
    }
}
