//! `daxtrace check FILE` / `daxtrace check --duration D`: the CI verdict.
//! Exit codes (docs/check.md): 0 pass, 1 fail, 2 inconclusive, 3 usage or
//! input error (the last comes from clap and from `main` on any error).
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use dax_trace::check::{self, CheckOptions, Format, Verdict};
use dax_trace::collector::Collector;
use dax_trace::source::live::{self, LiveOptions};
use dax_trace::trace::{CreateOptions, Header, Writer};

use super::record::parse_duration;
use super::report::fold_trace;

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["file", "duration"])))]
pub struct Args {
    /// The trace file to judge (from `daxtrace record`).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Capture live for this long (30s, 5m, 250ms), then judge (needs root).
    #[arg(long, value_name = "D", value_parser = parse_duration, conflicts_with = "file")]
    duration: Option<Duration>,
    /// Fail on any busy-page wait of at least MS milliseconds.
    #[arg(long, value_name = "MS")]
    max_wait: Option<f64>,
    /// Judge only this device: a disk name (pmem0, /dev/pmem0) or MAJ:MIN.
    /// Repeat for several.
    #[arg(long = "dev", value_name = "NAME|MAJ:MIN")]
    devices: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// With --format prometheus: the node_exporter textfile (*.prom) to write,
    /// atomically (temporary file, then rename). Otherwise, with --duration:
    /// also keep the capture as a trace file (created 0600).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Overwrite --output if it exists.
    #[arg(long, requires = "output")]
    force: bool,
    #[command(flatten)]
    require: super::require::Require,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = CheckOptions {
        max_wait_ns: args.max_wait.map(max_wait_ns).transpose()?,
        devices: args
            .devices
            .iter()
            .map(|d| d.strip_prefix("/dev/").unwrap_or(d).to_string())
            .collect(),
    };
    let (trace_output, metrics_output) = match args.format {
        Format::Prometheus => (None, args.output.as_deref()),
        _ => (args.output.as_deref(), None),
    };
    if args.file.is_some() && trace_output.is_some() {
        bail!("-o with a trace FILE writes metrics: add --format prometheus");
    }
    let verdict = match (&args.file, args.duration) {
        (Some(file), _) => {
            let folded = fold_trace(file, opts.collector_config())?;
            args.require.check(&folded.header.session.probes)?;
            let mut verdict = check::judge_with_stacks(
                &folded.collector,
                &opts,
                &file.display().to_string(),
                Some(&folded.stacks),
            );
            verdict.push(check::session::trace_complete(&folded.end));
            verdict.push(check::session::probes_cover_claims(
                &folded.header.session.probes,
            ));
            verdict
        }
        (None, Some(duration)) => {
            judge_live(duration, &opts, trace_output, args.force, &args.require)?
        }
        (None, None) => bail!("give a trace FILE or --duration D"),
    };
    let rendered = check::render::render(&verdict, args.format);
    match metrics_output {
        Some(path) => dax_trace::check::textfile::write_atomically(path, &rendered)
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{rendered}"),
    }
    Ok(ExitCode::from(verdict.outcome.exit_code()))
}

fn max_wait_ns(ms: f64) -> anyhow::Result<u64> {
    if !ms.is_finite() || ms < 0.0 {
        bail!("--max-wait must be a non-negative number of milliseconds, not {ms}");
    }
    Ok((ms * 1e6).round() as u64)
}

/// Captures for `duration` (or until Ctrl-C), then judges; with `output`,
/// every event is also written to that trace file.
fn judge_live(
    duration: Duration,
    opts: &CheckOptions,
    output: Option<&Path>,
    force: bool,
    require: &super::require::Require,
) -> anyhow::Result<Verdict> {
    // Refuse before loading any probe when the file is in the way.
    if let Some(path) = output
        && !force
        && std::fs::symlink_metadata(path).is_ok()
    {
        bail!(
            "{} already exists (pass --force to overwrite it)",
            path.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut stream = live::start(&LiveOptions::default()).context("starting live capture")?;
        require.check(&stream.info.probes)?;
        let mut writer = match output {
            Some(path) => {
                let header = Header::new(stream.info.clone(), Vec::new());
                let file = dax_trace::trace::create(path, CreateOptions { force })?;
                Some(Writer::to_file(file, &header)?)
            }
            None => None,
        };
        let mut keep = |ev: &dax_trace::event::Event| -> anyhow::Result<()> {
            if let Some(w) = writer.as_mut() {
                w.write_event(ev)?;
            }
            Ok(())
        };
        let mut collector = Collector::new(opts.collector_config());
        let deadline = tokio::time::sleep(duration);
        tokio::pin!(deadline);
        let mut interrupted = false;
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = tokio::signal::ctrl_c() => { interrupted = true; break; }
                batch = stream.events.recv() => match batch {
                    Some(batch) => {
                        for ev in &batch {
                            keep(ev)?;
                            collector.ingest(ev);
                        }
                    }
                    None => break,
                },
            }
        }
        // Events still queued or in the ring buffer belong to the window.
        for batch in stream.finish().await {
            for ev in &batch {
                keep(ev)?;
                collector.ingest(ev);
            }
        }
        if let Some(w) = writer {
            let reason = if interrupted {
                "interrupted"
            } else {
                "duration"
            };
            w.finish_file(reason)?;
        }
        let mut verdict = check::judge_with_stacks(&collector, opts, "live", Some(&stream.stacks));
        verdict.push(check::session::probes_cover_claims(&stream.info.probes));
        if interrupted {
            verdict.push(check::session::capture_interrupted());
        }
        Ok(verdict)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_wait_is_milliseconds() {
        assert_eq!(max_wait_ns(1.5).expect("valid"), 1_500_000);
        assert!(max_wait_ns(-1.0).is_err());
        assert!(max_wait_ns(f64::NAN).is_err());
    }
}
