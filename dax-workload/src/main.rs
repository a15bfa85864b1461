//! `dax-workload`: the fs-DAX scenarios the daxtrace VM test bed runs as root
//! in the guest. Progress goes to stderr; `--json` prints one summary line on
//! stdout. Exit 0: checks held; 1: a check failed or a step stayed blocked;
//! 2: setup error.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod blockdev;
mod cli;
mod clock;
mod cmd;
mod dm;
mod fiemap;
mod fs;
mod hwpoison;
mod kmsg;
mod loopdev;
mod loops;
mod mapping;
mod pagemap;
mod pin;
mod pin_child;
mod progress;
mod report;
mod scenario;
mod slowdev;
mod statx;
mod task;
mod uring;
mod watchdog;
mod workdir;

use clap::Parser;

use crate::cli::{Cli, Scenario};
use crate::report::Report;

fn main() {
    let cli = Cli::parse();
    if let Scenario::PoisonChild(args) = &cli.scenario {
        // A child of `memory-failure`: no report, no watchdogs, its own lines.
        std::process::exit(hwpoison::run(args));
    }
    if let Scenario::PinChild(args) = &cli.scenario {
        // A child of `pin-owners`: its own JSON lines, its own watchdogs.
        std::process::exit(pin_child::run(args));
    }
    // Benchmark loops: one line on stdout, no report.
    if let Scenario::FutexPingpong(args) = &cli.scenario {
        std::process::exit(loops::futex_pingpong(args));
    }
    if let Scenario::TruncateLoop(args) = &cli.scenario {
        std::process::exit(loops::truncate_loop(args));
    }
    progress::start();
    let name = cli.scenario.name();
    watchdog::init(name, cli.json);
    progress!("dax-workload {name} on {}", report::kernel_release());

    let mut report = Report::new(name);
    let outcome = scenario::run(&cli, &mut report);
    if let Err(err) = &outcome {
        progress!("setup error: {err:#}");
    }
    let summary = report.finish(outcome.as_ref().err());
    progress!(
        "{name}: {} ({} checks, {} failed) in {:.1} s",
        match summary.exit_code {
            report::EXIT_OK => "PASS",
            report::EXIT_SETUP_ERROR => "SETUP ERROR",
            _ => "FAIL",
        },
        summary.checks.len(),
        summary.checks.iter().filter(|c| !c.ok).count(),
        summary.duration_ms as f64 / 1000.0
    );
    if cli.json {
        println!("{}", summary.to_json_line());
    }
    std::process::exit(summary.exit_code);
}
