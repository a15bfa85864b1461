//! `cargo xtask demo`: the README's main job on a fresh machine, without root
//! or pmem: the shipped sample trace, recorded in the VM test bed, reported,
//! checked and replayed into the dashboard (or printed as batch frames when
//! there is no terminal), and the report of the synthetic sample, which
//! begins with the state a capture finds on a machine already in use.
use crate::run::{self, workspace_root};
use anyhow::Context as _;
use std::io::IsTerminal as _;
use std::process::Command;

/// The sample trace shipped in the repository.
pub const SAMPLE_TRACE: &str = "samples/dma-truncate-6.1.dxt";
/// The synthetic sample, which begins with a state at start.
pub const STATE_SAMPLE: &str = "samples/synthetic-6.1.dxt";
/// Files evicted while DMA targets their pages, recorded on Debian 6.1.
pub const EVICT_SAMPLE: &str = "samples/evict-under-dma-6.1.dxt";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print batch frames instead of the interactive dashboard.
    #[arg(long)]
    pub batch: bool,
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let root = workspace_root();
    let sample = root.join(SAMPLE_TRACE);
    anyhow::ensure!(
        sample.exists(),
        "the sample trace {} is missing from this checkout",
        sample.display()
    );
    let sample = sample
        .to_str()
        .context("the sample trace path is not UTF-8")?
        .to_string();
    let daxtrace = |tail: &[&str]| {
        let mut cmd = Command::new("cargo");
        cmd.args(["run", "--release", "--quiet", "-p", "dax-trace", "--"])
            .args(tail)
            .current_dir(&root);
        cmd
    };
    run::status(&mut daxtrace(&["report", &sample]))?;
    run::status(&mut daxtrace(&["check", &sample])).or_else(|err| {
        // A failing verdict is part of the demo (the sample shows a stuck wait).
        eprintln!("xtask demo: check reported: {err:#}");
        Ok::<(), anyhow::Error>(())
    })?;
    // The synthetic sample starts on a machine already in use: its trace
    // begins with the state at start (devices, mounts, claims held since
    // before the trace, a wait in progress), which report names as such.
    let state_sample = root.join(STATE_SAMPLE);
    if let Some(path) = state_sample.to_str().filter(|_| state_sample.exists()) {
        eprintln!(
            "xtask demo: a trace that begins on a machine already in use, naming who pinned the pages"
        );
        run::status(&mut daxtrace(&["report", path]))?;
    }
    // Before 6.15 an unlink or umount gives a file's blocks back while DMA
    // still writes into its pages: check fails on every such page.
    let evict_sample = root.join(EVICT_SAMPLE);
    if let Some(path) = evict_sample.to_str().filter(|_| evict_sample.exists()) {
        eprintln!(
            "xtask demo: files unlinked and unmounted while DMA targets their pages (Debian 6.1)"
        );
        run::status(&mut daxtrace(&["check", path])).or_else(|err| {
            eprintln!("xtask demo: check reported: {err:#}");
            Ok::<(), anyhow::Error>(())
        })?;
    }
    if args.batch || !std::io::stdout().is_terminal() {
        // Ten times the recorded pace: a frame a second until the trace ends,
        // then the final state.
        run::status(&mut daxtrace(&[
            "top", "--replay", &sample, "--speed", "10", "--batch",
        ]))
    } else {
        run::status(&mut daxtrace(&["top", "--replay", &sample]))
    }
}
