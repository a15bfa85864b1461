//! The `daxtrace` binary: a thin command-line layer over the `dax_trace`
//! library. Each subcommand lives in `cmd/<name>.rs` with its clap arguments
//! and a `run` returning the process exit code.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

mod cmd;

/// Observe the Linux filesystem-DAX page lifecycle: dax_device claims and
/// releases, ZONE_DEVICE page pins and idles, DMA-vs-truncate waits, and the
/// device-mapper topology above pmem.
#[derive(Parser, Debug)]
#[command(name = "daxtrace", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show which probes attach on this kernel, and why others do not.
    Probes(cmd::probes::Args),
    /// Print what exists now (dax devices and their claims, pagemaps, DAX
    /// mounts, dm targets, waiting threads, busy pages) without tracing.
    State(cmd::state::Args),
    /// Record events to a trace file.
    Record(cmd::record::Args),
    /// Summarize a trace file per dev_pagemap.
    Report(cmd::report::Args),
    /// Convert a trace file to JSON lines or a Perfetto trace.
    Export(cmd::export::Args),
    /// Judge claim/release balance and waits (CI assertions).
    Check(cmd::check::Args),
    /// Live dashboard, or a replay of a trace file.
    Top(cmd::top::Args),
    /// Prometheus exporter: serve /metrics from live probes or a replay.
    Serve(cmd::serve::Args),
    /// Why is this thread, process, file or mount stuck? Attach, watch a
    /// few seconds, and name the page it waits for and who holds it.
    Why(cmd::why::Args),
    /// Print shell completions (bash, zsh, fish).
    Completions(cmd::completions::CompletionArgs),
    /// Print the man page daxtrace(1), or a subcommand's daxtrace-SUB(1),
    /// in roff; or write them all into a directory.
    Man(cmd::man::Args),
}

fn main() -> ExitCode {
    cmd::diagnostic::init_logger();
    // Usage errors exit 3, not clap's 2: 2 means "inconclusive" for `check`.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 3 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Probes(args) => cmd::probes::run(args),
        Command::State(args) => cmd::state::run(args),
        Command::Record(args) => cmd::record::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Top(args) => cmd::top::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Why(args) => cmd::why::run(args),
        Command::Completions(args) => cmd::completions::completions(args, Cli::command()),
        Command::Man(args) => cmd::man::run(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        // The reader of stdout stopped early (`| head`): not a failure.
        Err(err) if cmd::stdout::reader_gone(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("daxtrace: {}", cmd::diagnostic::error_line(&err));
            // 3 is "usage or input error" in the documented exit codes.
            ExitCode::from(3)
        }
    }
}
