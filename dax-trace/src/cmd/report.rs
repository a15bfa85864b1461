//! `daxtrace report FILE [--json]`: folds a trace file and prints its
//! [`Report`] (the library's `report` module) as text or JSON.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use dax_trace::collector::CollectorConfig;
use dax_trace::human::time::TimeBase;
use dax_trace::report::{Report, render_text};
use dax_trace::source::replay::{self, Folded};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file (from `daxtrace record`).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Event times: rel (since the first event), mono (since boot), wall (UTC).
    #[arg(long, value_enum, default_value_t = TimeBase::Rel)]
    time: TimeBase,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let folded = fold_trace(&args.file, CollectorConfig::default())?;
    let mut report = Report::new(&args.file, &folded, &folded.stacks);
    report.time = args.time;
    let out = if args.json {
        dax_trace::report::render_json(&report).context("encoding the report")?
    } else {
        render_text(&report)
    };
    super::stdout::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads every intact record of `path` into a collector (see [`replay::fold`]).
pub fn fold_trace(path: &Path, config: CollectorConfig) -> anyhow::Result<Folded> {
    replay::fold(path, config).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_an_error() {
        assert!(fold_trace(Path::new("/nonexistent.dxt"), CollectorConfig::default()).is_err());
    }
}
