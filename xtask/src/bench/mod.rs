//! `cargo xtask bench overhead`: what daxtrace costs the workload it watches,
//! against the untraced run and a bpftrace script on the same functions.
//!
//! Per kernel generation one VM boot runs `xtask/guest/bench.sh` with the
//! host's /usr mounted read-only (fio and bpftrace run from there: copied into
//! the image their libraries would add about 280 MB to a guest of 2 GiB).
//! The guest leaves raw outputs in the share; [`runs`] reads them and
//! [`table`] turns them into medians, per-round ratios, the table printed
//! here and `target/bench/overhead.json`. Nothing is asserted on timings.
pub mod census;
pub mod config;
pub mod goals;
mod guest_run;
mod guest_script;
pub mod pins_table;
pub mod render;
pub mod row;
pub mod runs;
pub mod table;
pub mod window;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use xtask::vm::{Accel, KernelGen};

use crate::run::workspace_root;
pub use guest_run::copy_guest_scripts;
use guest_run::{GuestRun, read_share_file};
use runs::{Config, PIN_WORKLOADS, WORKLOADS};
use table::{Row, WorkloadRuns};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub which: Which,
}

#[derive(clap::Subcommand, Debug)]
pub enum Which {
    /// Throughput untraced / under daxtrace record / under bpftrace, per workload.
    Overhead(OverheadArgs),
    /// Cost of the census of busy pages at attach, per GiB of FS-DAX pmem.
    Census(census::CensusArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct OverheadArgs {
    /// Kernel generations.
    #[arg(long, value_delimiter = ',', default_values = ["6.1", "7"])]
    pub kernels: Vec<KernelGen>,
    /// Rounds (each runs every configuration once, interleaved). Under the
    /// instruction clock rounds repeat within 0.02%: two show that; one
    /// round of every workload takes about 40 min of wall time per kernel.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rounds: u32,
    /// Seconds each workload runs (guest seconds: instructions under icount).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=600))]
    pub runtime: u32,
    /// Workloads (default: all).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// The guest's clock: `icount` (QEMU's instruction clock, one vCPU:
    /// throughput counts instructions, repeated runs agree within 0.1%) or
    /// `tcg` (multi-threaded TCG on host time: ratios scatter by +-30%).
    #[arg(long, value_enum, default_value_t = Clock::Icount)]
    pub clock: Clock,
    /// Also run `daxtrace record --no-stacks` and `--no-pins` on the
    /// O_DIRECT workloads (two more sessions a round).
    #[arg(long)]
    pub pin_variants: bool,
    /// Do not rebuild the guest binaries.
    #[arg(long)]
    pub no_build: bool,
    /// Boot nothing: read the runs a previous (possibly interrupted) run
    /// left in target/bench/KERNEL again. Runs that never happened show as
    /// missing.
    #[arg(long)]
    pub collect_only: bool,
}

/// What the guest's clock counts during a benchmark boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// QEMU's instruction clock (`Accel::Icount`): 1 ns per guest instruction.
    Icount,
    /// Multi-threaded TCG: host time.
    Tcg,
}

impl Clock {
    pub fn accel(self) -> Option<Accel> {
        match self {
            Clock::Icount => Some(Accel::Icount),
            // As before the instruction clock: whatever the host allows.
            Clock::Tcg => None,
        }
    }
}

/// The `clock` of a row for a boot under `accel`.
pub fn clock_name(accel: Accel) -> &'static str {
    match accel {
        Accel::Icount => "icount",
        Accel::Tcg => "tcg",
        Accel::Kvm => "kvm",
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    match &args.which {
        Which::Overhead(o) => overhead(o),
        Which::Census(c) => census::run(c),
    }
}

fn overhead(args: &OverheadArgs) -> anyhow::Result<()> {
    let workloads = chosen_workloads(&args.workloads)?;
    let pin_workloads: &[&str] = if args.pin_variants {
        &PIN_WORKLOADS
    } else {
        &[]
    };
    let root = workspace_root();
    let bench_dir = root.join("target/bench");
    let mut rows = Vec::new();
    for &kernel in &args.kernels {
        let share = bench_dir.join(kernel.as_str());
        let (release, clock) = if args.collect_only {
            // Shares from before the clock was written were measured under TCG.
            let clock = read_share_file(&share, "clock").unwrap_or_else(|_| "tcg".into());
            (read_share_file(&share, "kernel-release")?, clock)
        } else {
            let guest = GuestRun {
                kernel,
                rounds: args.rounds,
                runtime: args.runtime,
                workloads: &workloads,
                pin_workloads,
                accel: args.clock.accel(),
                build: !args.no_build,
            };
            guest.run(&share)?
        };
        rows.extend(collect_rows(
            kernel,
            &release,
            &share,
            args.rounds,
            &workloads,
            pin_workloads,
            &clock,
        ));
    }
    let table = table::render(&rows);
    println!("{table}");
    if let Some(pins) = pins_table::render(&rows) {
        println!("{pins}");
    }
    let json_path = bench_dir.join("overhead.json");
    let merged = merge_rows(&json_path, rows);
    std::fs::write(&json_path, serde_json::to_string_pretty(&merged)? + "\n")
        .with_context(|| format!("writing {}", json_path.display()))?;
    let mut md = table::render(&merged);
    if let Some(pins) = pins_table::render(&merged) {
        md.push('\n');
        md.push_str(&pins);
    }
    std::fs::write(bench_dir.join("overhead.md"), md)
        .with_context(|| "writing target/bench/overhead.md")?;
    eprintln!(
        "xtask bench: {} rows written to {} (table of all kernels measured so far: target/bench/overhead.md)",
        merged.len(),
        json_path.display()
    );
    Ok(())
}

fn chosen_workloads(names: &[String]) -> anyhow::Result<Vec<&'static str>> {
    if names.is_empty() {
        return Ok(WORKLOADS.to_vec());
    }
    names
        .iter()
        .map(|n| {
            WORKLOADS
                .iter()
                .find(|w| **w == n.as_str())
                .copied()
                .ok_or_else(|| {
                    anyhow::anyhow!("unknown workload {n:?} (known: {})", WORKLOADS.join(", "))
                })
        })
        .collect()
}

/// Rows already in `path` are kept unless this run measured the same kernel and workload again.
fn merge_rows(path: &Path, new: Vec<Row>) -> Vec<Row> {
    let old: Vec<Row> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let mut merged: Vec<Row> = old
        .into_iter()
        .map(|mut o| {
            // Rows from before the clock was recorded were measured under
            // TCG, their BPF programs as (name, runs, ns) tuples.
            if o.clock.is_empty() {
                o.clock = "tcg".into();
                o.bpf_programs.clear();
            }
            o
        })
        .filter(|o| {
            !new.iter()
                .any(|n| n.kernel == o.kernel && n.workload == o.workload)
        })
        .collect();
    merged.extend(new);
    merged.sort_by_key(|r| {
        (
            KernelGen::ALL.iter().position(|k| k.as_str() == r.kernel),
            WORKLOADS.iter().position(|w| *w == r.workload),
        )
    });
    merged
}

/// Reads every run of `workloads` from `share/runs` into one row each;
/// `pin_workloads` are those that ran the pin variants too, `clock` what
/// the guest's clock counted.
pub fn collect_rows(
    kernel: KernelGen,
    release: &str,
    share: &Path,
    rounds: u32,
    workloads: &[&str],
    pin_workloads: &[&str],
    clock: &str,
) -> Vec<Row> {
    let runs_dir: PathBuf = share.join("runs");
    workloads
        .iter()
        .map(|w| {
            let rounds = (1..=rounds)
                .map(|r| Config::ALL.map(|c| runs::read_run(&runs_dir, w, r, c)))
                .collect();
            WorkloadRuns {
                kernel: kernel.as_str(),
                release,
                workload: w,
                clock,
                configs: Config::for_workload(w, pin_workloads),
                rounds,
            }
            .row()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::guest_run::guest_command;
    use super::*;

    #[test]
    fn workloads_are_checked_by_name() {
        assert_eq!(chosen_workloads(&[]).unwrap().len(), WORKLOADS.len());
        assert_eq!(
            chosen_workloads(&["dio-dax".into()]).unwrap(),
            vec!["dio-dax"]
        );
        let err = chosen_workloads(&["dio".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown workload \"dio\""), "{err}");
    }

    #[test]
    fn the_guest_command_names_rounds_runtime_and_workloads() {
        assert_eq!(
            guest_command(
                3,
                5,
                &["dio-dax", "dio-anon"],
                &PIN_WORKLOADS,
                "/mnt/host/bench"
            ),
            [
                "env",
                "BENCH_OUT=/mnt/host/bench",
                "BENCH_PIN_WORKLOADS=dio-dax dio-dax-punch dio-anon",
                "bash",
                "/mnt/host/bench.sh",
                "3",
                "5",
                "dio-dax",
                "dio-anon"
            ]
        );
    }

    #[test]
    fn merging_replaces_only_the_rows_measured_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("overhead.json");
        let row = |kernel: &str, workload: &str, untraced: f64| Row {
            kernel: kernel.into(),
            release: kernel.into(),
            workload: workload.into(),
            metric: "IOPS".into(),
            untraced: Some(untraced),
            ..Row::default()
        };
        // A run of some workloads (`--workloads`) keeps the kernel's others.
        let first = vec![
            row("7", "dio-dax", 1.0),
            row("7", "mount-cycles", 5.0),
            row("6.1", "dio-dax", 2.0),
        ];
        std::fs::write(&path, serde_json::to_string(&first).unwrap()).unwrap();
        let merged = merge_rows(
            &path,
            vec![row("7", "dio-anon", 3.0), row("7", "dio-dax", 4.0)],
        );
        let got: Vec<(&str, &str, Option<f64>)> = merged
            .iter()
            .map(|r| (r.kernel.as_str(), r.workload.as_str(), r.untraced))
            .collect();
        assert_eq!(
            got,
            [
                ("6.1", "dio-dax", Some(2.0)),
                ("7", "dio-dax", Some(4.0)),
                ("7", "dio-anon", Some(3.0)),
                ("7", "mount-cycles", Some(5.0))
            ]
        );
    }
}
