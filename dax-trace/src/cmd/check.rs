//! `daxtrace check FILE` / `daxtrace check --duration D` / `daxtrace
//! check --expect-dax MOUNTPOINT` (alone: this system now): the CI verdict.
//! Exit codes (docs/check.md): 0 pass, 1 fail, 2 inconclusive, 3 usage or
//! input error (the last comes from clap and from `main` on any error).
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use dax_trace::check::textfile::write_atomically;
use dax_trace::check::{self, CheckOptions, Format, Verdict};
use dax_trace::collector::Collector;
use dax_trace::event::Event;
use dax_trace::human::time::TimeBase;
use dax_trace::source::drive::{DriveOptions, Sink, Stopped, drive, stop_signals};
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::trace::{CreateOptions, Header, Writer};

use super::report::fold_trace;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["file", "duration", "expect_dax"])))]
pub struct Args {
    /// The trace file to judge (from `daxtrace record`).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Capture live for this long (30s, 5m, 250ms; a bare number is
    /// seconds), then judge (needs root).
    #[arg(long, value_name = "D", value_parser = super::flags::capture, conflicts_with = "file")]
    duration: Option<Duration>,
    /// Fail on any busy-page wait at least this long (100ms, 2s; the unit
    /// is required).
    #[arg(long, value_name = "D", value_parser = super::flags::max_wait)]
    max_wait: Option<Duration>,
    /// Judge only this device: a disk name (pmem0, /dev/pmem0) or MAJ:MIN.
    /// Repeat for several.
    #[arg(long = "dev", value_name = "NAME|MAJ:MIN")]
    devices: Vec<String>,
    /// Fail unless DAX is in effect on this mount point: every regular
    /// file sampled there is DAX (statx). Judged from the trace's samples
    /// with FILE or --duration, else on this system now. Repeat for several.
    #[arg(long, value_name = "MOUNTPOINT")]
    expect_dax: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Event times: rel (since the first event), mono (since boot), wall (UTC).
    #[arg(long, value_enum, default_value_t = TimeBase::Rel)]
    time: TimeBase,
    /// Write the report (in --format) to FILE instead of stdout, atomically
    /// (temporary file, then rename): `--format junit -o report.xml`.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write the verdict as a node_exporter textfile (*.prom),
    /// atomically, whatever --format says.
    #[arg(long, value_name = "FILE")]
    metrics_textfile: Option<PathBuf>,
    /// With --duration: also keep the capture as a trace file (created
    /// 0600, opened before the probes attach).
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    save_trace: Option<PathBuf>,
    /// Overwrite the --save-trace FILE if it exists.
    #[arg(long, requires = "save_trace")]
    force: bool,
    #[command(flatten)]
    require: super::require::Require,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = CheckOptions {
        // At most 7 days (the flag's range): fits in u64 nanoseconds.
        max_wait_ns: args.max_wait.map(|d| d.as_nanos() as u64),
        devices: args
            .devices
            .iter()
            .map(|d| d.strip_prefix("/dev/").unwrap_or(d).to_string())
            .collect(),
        time: args.time,
        mono_to_wall_ns: 0,
    };
    if let Some(path) = &args.output
        && path.extension().is_some_and(|e| e == "dxt")
    {
        // -o used to keep a live capture; it now writes the report.
        bail!(
            "-o writes the report; keep the capture with --save-trace {}",
            path.display()
        );
    }
    // Where the report and metrics go must exist before a long capture.
    for path in [&args.output, &args.metrics_textfile].into_iter().flatten() {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            bail!("{}: no such directory", dir.display());
        }
    }
    let verdict = match (&args.file, args.duration) {
        (Some(file), _) => {
            let folded = fold_trace(file, opts.collector_config())?;
            args.require.check(&folded.header.session.probes)?;
            let opts = CheckOptions {
                mono_to_wall_ns: folded.header.session.monotonic_to_realtime_ns,
                ..opts.clone()
            };
            let mut verdict = check::judge_with_stacks(
                &folded.collector,
                &opts,
                &file.display().to_string(),
                Some(&folded.stacks),
            );
            verdict.push(check::session::trace_complete(&folded.end));
            if let Some(window) = check::session::trace_window(&folded.header) {
                verdict.push(window);
            }
            verdict.push(check::session::probes_cover_claims(
                &folded.header.session.probes,
            ));
            if !args.expect_dax.is_empty() {
                verdict.push(check::dax_mode::assertion(&check::dax_mode::in_trace(
                    &folded.collector,
                    &args.expect_dax,
                )));
            }
            verdict
        }
        (None, Some(duration)) => judge_live(
            duration,
            &opts,
            args.save_trace.as_deref(),
            args.force,
            &args.require,
            &args.expect_dax,
        )?,
        (None, None) if !args.expect_dax.is_empty() => {
            if args.max_wait.is_some() || !args.devices.is_empty() || args.save_trace.is_some() {
                bail!(
                    "--max-wait, --dev and --save-trace judge events: give a trace FILE or --duration D with --expect-dax"
                );
            }
            check::dax_mode::verdict_now(&args.expect_dax)
        }
        (None, None) => bail!("give a trace FILE, --duration D or --expect-dax MOUNTPOINT"),
    };
    if let Some(path) = &args.metrics_textfile {
        let metrics = check::render::render(&verdict, Format::Prometheus);
        write_atomically(path, &metrics).with_context(|| format!("writing {}", path.display()))?;
    }
    let rendered = check::render::render(&verdict, args.format);
    match &args.output {
        Some(path) => write_atomically(path, &rendered)
            .with_context(|| format!("writing {}", path.display()))?,
        // A reader that stops early keeps the verdict's exit code.
        None => super::stdout::print(&rendered)?,
    }
    Ok(ExitCode::from(verdict.outcome.exit_code()))
}

/// Captures for `duration` (or until SIGINT or SIGTERM, or until the
/// source fails), then judges; with `output`, every event is also written
/// to that trace file.
fn judge_live(
    duration: Duration,
    opts: &CheckOptions,
    output: Option<&Path>,
    force: bool,
    require: &super::require::Require,
    expect_dax: &[String],
) -> anyhow::Result<Verdict> {
    // Opened before any probe is loaded: a bad path or a file in the way
    // fails at once.
    let reserved = output
        .map(|path| dax_trace::trace::reserve(path, CreateOptions { force }))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        // Installed before the (long) attach, so a SIGTERM during it is
        // not lost either.
        let stop = stop_signals().context("installing the SIGINT and SIGTERM handlers")?;
        let mut stream = live::start(&LiveOptions::default()).context("starting live capture")?;
        require.check(&stream.info.probes)?;
        let (attached, total) = stream.info.probes.attached_count();
        eprintln!(
            "daxtrace check: capturing for {} ({attached} of {total} probe families attached)",
            dax_trace::human::duration(duration.as_nanos() as u64)
        );
        let writer = match reserved {
            Some(reserved) => {
                let header = Header::new(stream.info.clone(), Vec::new());
                Some(Writer::to_file(reserved.take()?, &header)?)
            }
            None => None,
        };
        let mut sink = Judging {
            collector: Collector::new(opts.collector_config()),
            writer,
        };
        let drive_opts = DriveOptions {
            duration: Some(duration),
            tick: None,
        };
        let stopped = drive(&mut stream, &drive_opts, stop, &mut sink).await?;
        let Judging { collector, writer } = sink;
        if let Some(w) = writer {
            match &stopped {
                // Without its summary the file reads as truncated.
                Stopped::SourceFailed(_) => drop(w.abandon()?),
                other => drop(w.finish_file(other.reason())?),
            }
        }
        let opts = &CheckOptions {
            mono_to_wall_ns: stream.info.monotonic_to_realtime_ns,
            ..opts.clone()
        };
        let mut verdict = check::judge_with_stacks(&collector, opts, "live", Some(&stream.stacks));
        verdict.push(check::session::probes_cover_claims(&stream.info.probes));
        if !expect_dax.is_empty() {
            let found = check::dax_mode::in_trace(&collector, expect_dax);
            verdict.push(check::dax_mode::assertion(&found));
        }
        let cut_short = match &stopped {
            Stopped::Duration => None,
            Stopped::Signal("interrupted") => Some("interrupted by SIGINT (Ctrl-C)".to_string()),
            Stopped::Signal(_) => Some("stopped by SIGTERM".to_string()),
            Stopped::SourceEnded => Some("the event source ended before the duration".to_string()),
            Stopped::SourceFailed(reason) => Some(format!("the event source failed: {reason}")),
        };
        if let Some(why) = cut_short {
            verdict.push(check::session::capture_cut_short(why));
        }
        Ok(verdict)
    })
}

/// `check --duration`'s side of [`drive`]: folds every event, and keeps it
/// in the trace file when there is one.
struct Judging {
    collector: Collector,
    writer: Option<Writer<std::io::BufWriter<std::fs::File>>>,
}

impl Sink for Judging {
    type Error = dax_trace::trace::TraceError;

    fn batch(&mut self, events: &[Event]) -> Result<(), Self::Error> {
        for ev in events {
            if let Some(w) = self.writer.as_mut() {
                w.write_event(ev)?;
            }
            self.collector.ingest(ev);
        }
        Ok(())
    }
}
