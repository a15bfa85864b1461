//! One benchmark boot: the guest script's command line, its time bound,
//! the share it fills, and the VM run.
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use xtask::vm::{self, Accel, KernelGen, VmRequest};

use super::clock_name;
use super::runs::Config;
use crate::run::workspace_root;

/// The guest script's command line for `rounds`, `runtime` and `workloads`,
/// with the share at /mnt/host; `pin_workloads` also run the pin variants.
pub fn guest_command(
    rounds: u32,
    runtime: u32,
    workloads: &[&str],
    pin_workloads: &[&str],
    out_dir: &str,
) -> Vec<String> {
    let mut command = vec![
        "env".to_string(),
        format!("BENCH_OUT={out_dir}"),
        format!("BENCH_PIN_WORKLOADS={}", pin_workloads.join(" ")),
        "bash".to_string(),
        "/mnt/host/bench.sh".to_string(),
        rounds.to_string(),
        runtime.to_string(),
    ];
    command.extend(workloads.iter().map(|w| w.to_string()));
    command
}

/// A generous bound for one guest run: every run of every configuration,
/// and a tracer start per round and configuration (bpftrace compiles with
/// LLVM: tens of seconds under TCG).
pub fn guest_timeout(
    rounds: u32,
    runtime: u32,
    workloads: &[&str],
    pin_workloads: &[&str],
) -> Duration {
    let per_round: usize = workloads
        .iter()
        .map(|w| Config::for_workload(w, pin_workloads).len())
        .sum();
    let runs = u64::from(rounds) * per_round as u64;
    let sessions = u64::from(rounds) * Config::ALL.len() as u64;
    Duration::from_secs(600 + runs * (u64::from(runtime) * 3 + 30) + sessions * 120)
}

/// The guest scripts of the benchmark, copied into its share.
pub const GUEST_SCRIPTS: [&str; 2] = ["bench.sh", "bench-bpftrace.sh"];

/// Copies the guest scripts into `share` (emptied first).
pub fn prepare_share(share: &Path) -> anyhow::Result<()> {
    if share.exists() {
        std::fs::remove_dir_all(share).with_context(|| format!("clearing {}", share.display()))?;
    }
    std::fs::create_dir_all(share).with_context(|| format!("creating {}", share.display()))?;
    copy_guest_scripts(share)
}

/// Copies the guest scripts into `dir` (bench.sh sources the other from its own directory).
pub fn copy_guest_scripts(dir: &Path) -> anyhow::Result<()> {
    for script in GUEST_SCRIPTS {
        std::fs::copy(
            workspace_root().join("xtask/guest").join(script),
            dir.join(script),
        )
        .with_context(|| format!("copying {script} into {}", dir.display()))?;
    }
    Ok(())
}

pub(super) fn read_share_file(share: &Path, name: &str) -> anyhow::Result<String> {
    let path = share.join(name);
    Ok(std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (no earlier run?)", path.display()))?
        .trim()
        .to_string())
}

/// One benchmark boot.
pub(super) struct GuestRun<'a> {
    pub(super) kernel: KernelGen,
    pub(super) rounds: u32,
    pub(super) runtime: u32,
    pub(super) workloads: &'a [&'static str],
    pub(super) pin_workloads: &'a [&'a str],
    /// None: as `cargo xtask vm` chooses (KVM where usable, else TCG).
    pub(super) accel: Option<Accel>,
    pub(super) build: bool,
}

impl GuestRun<'_> {
    /// Boots, runs the guest script and gives the kernel release and the
    /// clock (also left in the share for `--collect-only`).
    pub(super) fn run(&self, share: &Path) -> anyhow::Result<(String, String)> {
        let kernel = self.kernel;
        prepare_share(share)?;
        let accel = self.accel.unwrap_or_else(vm::accel::detect);
        let clock = clock_name(accel);
        std::fs::write(share.join("clock"), format!("{clock}\n"))
            .with_context(|| format!("writing {}/clock", share.display()))?;
        let mut command = guest_command(
            self.rounds,
            self.runtime,
            self.workloads,
            self.pin_workloads,
            "/mnt/host",
        );
        // A quick look at some configurations only (bench.sh reads the
        // subset; the others show as missing in the rows).
        if let Ok(configs) = std::env::var("BENCH_CONFIGS") {
            command.insert(1, format!("BENCH_CONFIGS={configs}"));
        }
        let mut req = VmRequest::new(kernel, command);
        req.share = Some(share.to_path_buf());
        req.host_usr = true;
        req.accel = Some(accel);
        req.timeout = guest_timeout(
            self.rounds,
            self.runtime,
            self.workloads,
            self.pin_workloads,
        );
        req.echo_output = true;
        req.build_guest_binaries = self.build;
        let outcome = vm::run(&req).with_context(|| format!("booting Debian {kernel}"))?;
        if outcome.exit_code != 0 {
            bail!(
                "the bench script failed on {kernel} (exit {}); files in {}",
                outcome.exit_code,
                share.display()
            );
        }
        Ok((outcome.kernel_release, clock.to_string()))
    }
}
