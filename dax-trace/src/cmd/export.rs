//! `daxtrace export`: a trace file as JSON lines, as a Perfetto trace, or as a
//! trace file of the current format version (`dxt`, to upgrade old files).
//! A truncated trace (a killed recording) is exported up to where it stops,
//! with a warning; a corrupt one too, but the exit code is then 3.
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use dax_trace::export::{self, Format};
use dax_trace::trace::{CreateOptions, End, Reader};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum FormatArg {
    /// One JSON event per line.
    Jsonl,
    /// Chrome JSON trace events for ui.perfetto.dev.
    Perfetto,
    /// A trace file in the current format version (upgrades older files).
    Dxt,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The trace file to export.
    file: PathBuf,
    #[arg(long, value_enum)]
    format: FormatArg,
    /// Where to write (`-` for stdout); created 0600.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    force: bool,
    /// Event times: jsonl adds a "time" field in this base; perfetto's ts
    /// counts it (default: since boot). rel, mono or wall (UTC).
    #[arg(long, value_enum)]
    time: Option<dax_trace::human::time::TimeBase>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let format = match args.format {
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Perfetto => Format::Perfetto,
        FormatArg::Dxt => Format::Dxt,
    };
    let mut reader =
        Reader::open(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(super::stdout::Stdout::lock())
    } else {
        let file = dax_trace::trace::create(&args.output, CreateOptions { force: args.force })?;
        Box::new(file)
    };
    let exported = export::export_on(
        &mut reader,
        format,
        args.time,
        BufWriter::with_capacity(1 << 20, out),
    )?;
    match &exported.end {
        End::Complete => Ok(ExitCode::SUCCESS),
        End::Truncated { .. } => {
            eprintln!(
                "daxtrace: warning: {} is {}; exported the {} before it",
                args.file.display(),
                exported.end,
                dax_trace::human::plural(exported.events, "event")
            );
            Ok(ExitCode::SUCCESS)
        }
        End::Corrupt { .. } | End::Unreadable { .. } => {
            eprintln!(
                "daxtrace: {} is {}; exported the {} before it",
                args.file.display(),
                exported.end,
                dax_trace::human::plural(exported.events, "event")
            );
            Ok(ExitCode::from(3))
        }
    }
}
